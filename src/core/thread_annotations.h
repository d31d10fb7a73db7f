// core/thread_annotations.h: Clang thread-safety annotations (-Wthread-safety), as macros that expand
// to nothing on compilers without the attributes (GCC, which builds inferd, ignores them).
//
// Contract: annotate state a mutex guards where it is declared (GUARDED_BY / PT_GUARDED_BY) and functions
// by what they need held (REQUIRES, REQUIRES_SHARED) or must not hold (EXCLUDES). The mutex types are
// core/mutex.h's (std::mutex carries no capability attribute in libstdc++). scripts/check_thread_safety.sh
// compiles every src/ unit with clang -Wthread-safety -Werror=thread-safety; dev.sh test runs it.
// Each macro is defined only when not defined yet, as LevelDB does: Abseil's (a gRPC dependency) defines
// GUARDED_BY, PT_GUARDED_BY, ACQUIRED_* and NO_THREAD_SAFETY_ANALYSIS the same way.
// NO_THREAD_SAFETY_ANALYSIS is for the few functions the analysis cannot follow (say why beside it).
// The analysis is intra-procedural and compile-time only: it costs nothing at run time.
#pragma once

#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(guarded_by)
#define INFERD_THREAD_ANNOTATION(x) __attribute__((x))
#endif
#endif
#ifndef INFERD_THREAD_ANNOTATION
#define INFERD_THREAD_ANNOTATION(x)
#endif

// A type whose objects are capabilities (a mutex): CAPABILITY("mutex").
#ifndef CAPABILITY
#define CAPABILITY(x) INFERD_THREAD_ANNOTATION(capability(x))
#endif
// An RAII type that holds a capability for its lifetime (MutexLock).
#ifndef SCOPED_CAPABILITY
#define SCOPED_CAPABILITY INFERD_THREAD_ANNOTATION(scoped_lockable)
#endif

// Data members: readable and writable only with the capability held (shared suffices for reads).
#ifndef GUARDED_BY
#define GUARDED_BY(x) INFERD_THREAD_ANNOTATION(guarded_by(x))
#endif
// Pointer members: the pointee (not the pointer) is guarded.
#ifndef PT_GUARDED_BY
#define PT_GUARDED_BY(x) INFERD_THREAD_ANNOTATION(pt_guarded_by(x))
#endif
// Lock ordering between capabilities.
#ifndef ACQUIRED_BEFORE
#define ACQUIRED_BEFORE(...) INFERD_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#endif
#ifndef ACQUIRED_AFTER
#define ACQUIRED_AFTER(...) INFERD_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#endif

// Functions: the caller must hold the capability (exclusively / at least shared) ...
#ifndef REQUIRES
#define REQUIRES(...) INFERD_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#endif
#ifndef REQUIRES_SHARED
#define REQUIRES_SHARED(...) INFERD_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#endif
// ... or must not hold it (the function takes it itself).
#ifndef EXCLUDES
#define EXCLUDES(...) INFERD_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#endif
// The function acquires / releases the capability (no argument: `this`, or the scoped object's).
#ifndef ACQUIRE
#define ACQUIRE(...) INFERD_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#endif
#ifndef ACQUIRE_SHARED
#define ACQUIRE_SHARED(...) INFERD_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#endif
#ifndef RELEASE
#define RELEASE(...) INFERD_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#endif
#ifndef RELEASE_SHARED
#define RELEASE_SHARED(...) INFERD_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#endif
#ifndef RELEASE_GENERIC
#define RELEASE_GENERIC(...) INFERD_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#endif
// The function acquires the capability when it returns the given value (TRY_ACQUIRE(true)).
#ifndef TRY_ACQUIRE
#define TRY_ACQUIRE(...) INFERD_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#endif
#ifndef TRY_ACQUIRE_SHARED
#define TRY_ACQUIRE_SHARED(...) INFERD_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
#endif
// The analysis may assume the capability held after the call (checked at run time, if at all, by the callee).
#ifndef ASSERT_CAPABILITY
#define ASSERT_CAPABILITY(x) INFERD_THREAD_ANNOTATION(assert_capability(x))
#endif
#ifndef ASSERT_SHARED_CAPABILITY
#define ASSERT_SHARED_CAPABILITY(x) INFERD_THREAD_ANNOTATION(assert_shared_capability(x))
#endif
// The function returns a reference to the capability.
#ifndef RETURN_CAPABILITY
#define RETURN_CAPABILITY(x) INFERD_THREAD_ANNOTATION(lock_returned(x))
#endif

// Turns the analysis off for one function.
#ifndef NO_THREAD_SAFETY_ANALYSIS
#define NO_THREAD_SAFETY_ANALYSIS INFERD_THREAD_ANNOTATION(no_thread_safety_analysis)
#endif
