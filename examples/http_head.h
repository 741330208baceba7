// http_head.h — what examples/http_server.cpp and its thread-per-connection twin
// (bench/threads/http_threads.cpp) share, so that the http benchmark compares two
// servers that parse and answer alike: the canned answers, the buffer and batch
// sizes, and the request-head parser (just enough to find where a head ends, skip a
// Content-Length body, and honour "Connection: close" and HTTP/1.0's default).
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>

namespace http_head {

constexpr std::string_view kOk =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
constexpr std::string_view kOkClose =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: "
    "close\r\n\r\nHello, World!";
constexpr std::string_view kTooLarge =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: "
    "close\r\n\r\n";
constexpr std::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

// Lives on the connection's goroutine stack, and a parked connection costs the stack
// pages it has touched: with this buffer and the read path below it, one 4 KiB page.
// (Answers are written straight from static memory, never copied to the stack.)
constexpr std::size_t kInBuf = 2048;

// Up to kBatch answers in a row, so that n pipelined requests take n / kBatch writes.
constexpr int kBatch = 16;
inline const std::string kOkBatch = [] {
  std::string s;
  for (int i = 0; i < kBatch; ++i) s += kOk;
  return s;
}();

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Whether a comma-separated header value lists `token` (case-insensitive).
inline bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

struct Head {
  std::size_t size = 0;            // bytes of the head, blank line included; 0: incomplete
  bool bad = false;                // malformed: answer 400 and close
  bool close = false;              // close after answering
  std::size_t content_length = 0;  // body bytes to skip
};

// Parses the request head at the start of `data`, if it is all there.
inline Head parse_head(std::string_view data) {
  Head h;
  std::size_t pos = 0;
  bool first = true;
  bool http10 = false, keep_alive = false;
  for (;;) {
    std::size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) return Head{};  // incomplete
    std::string_view line = data.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (first) {
      if (line.empty()) continue;  // stray CRLF between requests (RFC 9112 2.2)
      first = false;
      std::size_t sp = line.rfind(' ');
      if (sp == std::string_view::npos || line.find(' ') == sp) {
        h.bad = true;
        h.size = pos;
        return h;
      }
      http10 = line.substr(sp + 1) == "HTTP/1.0";
      continue;
    }
    if (line.empty()) break;  // end of head
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    if (iequals(name, "Content-Length")) {
      std::size_t v = 0;
      for (char c : value) {
        if (c >= '0' && c <= '9')
          v = v * 10 + std::size_t(c - '0');
        else if (c != ' ' && c != '\t')
          h.bad = true;
      }
      h.content_length = v;
    } else if (iequals(name, "Connection")) {
      if (has_token(value, "close")) h.close = true;
      if (has_token(value, "keep-alive")) keep_alive = true;
    } else if (iequals(name, "Transfer-Encoding")) {
      h.close = true;  // a chunked body is not read here: answer, then close
    }
  }
  if (http10 && !keep_alive) h.close = true;
  h.size = pos;
  return h;
}

// What the bytes read so far on a connection ask for: `ok` "200 OK" answers owed in
// order, then `last` (when not empty) as the connection's final answer, after which
// it is closed. `used` bytes of `data` are consumed; the rest is an incomplete head to
// keep for the next read. `skip` carries the body bytes still to discard from one
// call to the next.
struct Scan {
  std::size_t used = 0;
  std::size_t ok = 0;
  std::string_view last;
};

inline Scan scan_heads(std::string_view data, std::size_t& skip) {
  Scan s;
  for (;;) {
    if (skip > 0) {
      std::size_t k = std::min(skip, data.size() - s.used);
      s.used += k;
      skip -= k;
      if (skip > 0) return s;
    }
    Head h = parse_head(data.substr(s.used));
    if (h.size == 0) return s;  // the rest of this head is still to come
    s.used += h.size;
    if (h.bad || h.close) {  // the last answer on this connection
      s.last = h.bad ? kBadRequest : kOkClose;
      return s;
    }
    ++s.ok;
    skip = h.content_length;
  }
}

}  // namespace http_head
