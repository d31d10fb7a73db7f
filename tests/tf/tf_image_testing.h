// tests/tf/tf_image_testing.h: test images made at test time by Debian's python3-pil (which decodes with the same
// libjpeg-turbo), each with PIL's own decoding of it, for the image kernel and executor tests. Test code only.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace inferd::tf::testing {

// Writes into `dir`: rgb.jpg (37x23, quality 90, 4:2:0) and rgb.jpg.raw (PIL's decoding: RGB bytes),
// gray.jpg / gray.jpg.raw, rgba.png / rgba.png.raw, rgb.png / rgb.png.raw, pal.png (a palette image) /
// pal.png.raw (as RGB), huge.png (a valid PNG header declaring 100000x100000), zero.png (width 0).
// False when PIL is not installed (the caller skips).
inline bool MakePilImages(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const std::string script = dir + "/make.py";
  std::ofstream(script) << R"PY(
import sys, struct, zlib
from PIL import Image
d = sys.argv[1]
w, h = 37, 23
px = bytes((x * 7 + y * 3) % 256 if c == 0 else (x * y) % 256 if c == 1 else (255 - x * 5) % 256
           for y in range(h) for x in range(w) for c in range(3))
rgb = Image.frombytes('RGB', (w, h), px)
rgb.save(d + '/rgb.jpg', quality=90, subsampling=2)
open(d + '/rgb.jpg.raw', 'wb').write(Image.open(d + '/rgb.jpg').convert('RGB').tobytes())
g = rgb.convert('L')
g.save(d + '/gray.jpg', quality=90)
open(d + '/gray.jpg.raw', 'wb').write(Image.open(d + '/gray.jpg').tobytes())
rgba = Image.frombytes('RGBA', (w, h), bytes(((x * 11) % 256 if c < 3 else (y * 10) % 256)
                        for y in range(h) for x in range(w) for c in range(4)))
rgba.save(d + '/rgba.png')
open(d + '/rgba.png.raw', 'wb').write(Image.open(d + '/rgba.png').tobytes())
rgb.save(d + '/rgb.png')
open(d + '/rgb.png.raw', 'wb').write(Image.open(d + '/rgb.png').tobytes())
pal = rgb.convert('P', palette=Image.ADAPTIVE, colors=16)
pal.save(d + '/pal.png')
open(d + '/pal.png.raw', 'wb').write(Image.open(d + '/pal.png').convert('RGB').tobytes())
def png(width, height):
    def chunk(t, data):
        return struct.pack('>I', len(data)) + t + data + struct.pack('>I', zlib.crc32(t + data) & 0xffffffff)
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(b'\0' * 16)) + chunk(b'IEND', b'')
open(d + '/huge.png', 'wb').write(png(100000, 100000))
open(d + '/zero.png', 'wb').write(png(0, 10))
)PY";
  const std::string cmd = "/usr/bin/python3 " + script + " " + dir + " 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace inferd::tf::testing
