// Boost.Asio, Asio's SSL support and Boost.Beast compiled once for the whole project
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION are set project-wide), so
// no other translation unit instantiates their non-template code. This is Boost's code, not ours:
// the fake upstreams in tests/support link it too.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
