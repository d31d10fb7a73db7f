# Script mode (cmake -P), run at build time by inferd_embed_text() in CMakeLists.txt: writes OUTPUT, a C++ source
# defining `const char* const NAMESPACE::SYMBOL`, the NUL-terminated text of INPUT (a .py file that inferd runs
# in its embedded interpreter, or a CRD the API validates with). The bytes are written as an array, so no
# content can end a literal early.
#   cmake -DINPUT=a.py -DOUTPUT=a.cc -DHEADER=dir/a.h -DNAMESPACE=inferd -DSYMBOL=kSource -P embed_text.cmake
foreach(v INPUT OUTPUT HEADER NAMESPACE SYMBOL)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "embed_text.cmake: -D${v}=... is required")
  endif()
endforeach()
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "(..)" "0x\\1," bytes "${hex}")
string(FIND "${bytes}" "0x00," nul)
if(NOT nul EQUAL -1)
  message(FATAL_ERROR "embed_text.cmake: ${INPUT} contains a NUL byte (the text is read as a C string)")
endif()
set(row "")
foreach(i RANGE 15)
  string(APPEND row "0x..,")
endforeach()
string(REGEX REPLACE "(${row})" "\\1\n    " bytes "${bytes}")
file(RELATIVE_PATH shown "${CMAKE_CURRENT_LIST_DIR}/.." "${INPUT}")
set(text "// Generated at build time by cmake/embed_text.cmake from ${shown}: edit that file, not this one.
#include \"${HEADER}\"

namespace ${NAMESPACE} {

namespace {
constexpr unsigned char kText[] = {
    ${bytes}0x00};
}  // namespace

const char* const ${SYMBOL} = reinterpret_cast<const char*>(kText);

}  // namespace ${NAMESPACE}
")
# Rewritten only when it changes, so that touching the .py file without changing it recompiles nothing.
set(old "")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
