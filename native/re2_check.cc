// Compiles a regex with RE2 as Envoy's GoogleRE2 matcher does and reports whether
// Envoy would accept it: RE2 must parse it (Envoy then reports RE2's error text),
// and its compiled program must be no larger than Envoy's max program size
// (runtime `re2.max_program_size.error_level`, 100 by default).
//
// Options: errors not logged, and Latin-1 encoding. The encoding is what Envoy
// 1.40 as shipped does, measured with `envoy --mode validate` on this machine:
// it rejects `\x{100}` ("invalid escape sequence", as RE2 does only in Latin-1
// mode) and reports program sizes that match Latin-1 exactly (`.` 6, `\pL` 11,
// a 9-label wildcard host's `:authority` regex 44) where UTF-8 gives far more
// (12, 1197, 98).
//
// Called from Rust (src/translate/regex/re2.rs); never lets a C++ exception
// cross the C boundary.

#include <re2/re2.h>

#include <cstddef>
#include <cstring>
#include <string>

namespace {

// Copies as much of `msg` as fits into `buf` (no terminator; the length is
// returned through `written`).
void copy_error(const std::string& msg, char* buf, size_t cap, size_t* written) {
  size_t n = msg.size() < cap ? msg.size() : cap;
  if (n > 0 && buf != nullptr) {
    std::memcpy(buf, msg.data(), n);
  }
  *written = buf == nullptr ? 0 : n;
}

}  // namespace

// Returns 0 when Envoy accepts `pattern` (`len` bytes, NULs allowed), 1 when RE2
// rejects it (its error text is copied to `err_buf`, `*err_written` bytes), 2 when
// its program size (in `*program_size`) exceeds `max_program_size`, and -1 on an
// internal failure (e.g. out of memory; `err_buf` says what).
extern "C" int interlock_re2_check(const char* pattern, size_t len, int max_program_size,
                                   int* program_size, char* err_buf, size_t err_len,
                                   size_t* err_written) {
  *program_size = 0;
  *err_written = 0;
  try {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_encoding(RE2::Options::EncodingLatin1);
    RE2 regex(re2::StringPiece(pattern, len), options);
    if (!regex.ok()) {
      copy_error(regex.error(), err_buf, err_len, err_written);
      return 1;
    }
    *program_size = regex.ProgramSize();
    return *program_size > max_program_size ? 2 : 0;
  } catch (const std::exception& e) {
    copy_error(e.what(), err_buf, err_len, err_written);
    return -1;
  } catch (...) {
    copy_error("unknown C++ exception", err_buf, err_len, err_written);
    return -1;
  }
}
