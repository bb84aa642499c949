// The one translation unit that compiles Boost.Asio, Boost.Beast (and their SSL
// parts); everything else includes only their headers, so that editing one file does
// not recompile them.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
