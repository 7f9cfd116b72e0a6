#include "common/error.h"

namespace docket {

std::string_view fault_name(Fault f) {
  switch (f) {
    case Fault::remote: return "remote";
    case Fault::local: return "local";
    case Fault::user: return "user";
    case Fault::bug: return "bug";
  }
  return "bug";
}

std::string Error::describe() const {
  std::string s(fault_name(fault));
  s += " error (";
  s += code;
  s += "): ";
  s += message;
  return s;
}

}  // namespace docket
