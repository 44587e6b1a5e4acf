#pragma once
// The one way a step of the adapters that can fail says so: a Result holds the value, or the
// error the client is to be told (ParseError for a body that cannot be read, TranslateError for
// a request a provider cannot express). Return the value or the error as it is; test with `if`.

#include <utility>
#include <variant>

namespace sb::adapters {

/// A value of type T or an error of type E (distinct types).
template <class T, class E>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: `return value;`
  Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: `return error;`
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const E& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace sb::adapters
