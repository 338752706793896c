// Bounded fan-out: `fn` on every item, at most `width` at once (each in its own std::async
// thread), the results in the items' order. For calls that mostly wait (a target's HTTP API with
// a timeout): n of them cost about ceil(n / width) timeouts, not n.
#pragma once

#include <algorithm>
#include <cstddef>
#include <future>
#include <type_traits>
#include <vector>

namespace maya {

template <typename T, typename Fn>
auto parallel_map(const std::vector<T>& items, std::size_t width, Fn fn)
    -> std::vector<std::invoke_result_t<Fn&, const T&>> {
  using R = std::invoke_result_t<Fn&, const T&>;
  std::vector<R> out;
  out.reserve(items.size());
  width = std::max<std::size_t>(width, 1);
  for (std::size_t begin = 0; begin < items.size(); begin += width) {
    const std::size_t end = std::min(items.size(), begin + width);
    std::vector<std::future<R>> running;
    running.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i)
      running.push_back(
          std::async(std::launch::async, [&fn, &item = items[i]] { return fn(item); }));
    for (auto& f : running) out.push_back(f.get());
  }
  return out;
}

}  // namespace maya
