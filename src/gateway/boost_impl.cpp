// The one translation unit that compiles Boost.Asio, Boost.Beast (and their SSL
// parts); everything else includes only their headers (DESIGN §4 build time).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
