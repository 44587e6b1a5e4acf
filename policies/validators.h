#pragma once
// Checks applied to candidate values found by the sensitivity detectors (policies/detector.h):
// checksums (Luhn, IBAN mod-97), issuer and numbering rules (card IIN ranges, SSN areas), address
// syntax (IPv4, IPv6) and token structure (JWT header).
//
// Private to the policies library. Every function is pure, reentrant, allocation-free and runs in
// time linear in its argument; callers bound the argument's length.

#include <string_view>

namespace sb::policies::validators {

/// True when `digits` (ASCII digits only, at least 2) passes the Luhn mod-10 check.
bool luhn(std::string_view digits);

/// True when `digits` (exactly 13 ASCII digits) carries a valid EAN-13 (GTIN-13, ISBN-13) check
/// digit: weights 1 and 3 from the left, sum a multiple of 10.
bool ean13(std::string_view digits);

/// True when `digits` (ASCII digits only) has the length of a card of a major network whose IIN
/// range it falls in: Visa (4; 13, 16 or 19 digits), Mastercard (51-55, 2221-2720; 16), American
/// Express (34, 37; 15), Discover (6011, 644-649, 65; 16-19), JCB (3528-3589; 16-19), Diners Club
/// (300-305, 36, 38; 14-19) and UnionPay (62; 16-19). Does not check Luhn.
bool card_issuer(std::string_view digits);

/// True when `digits` (exactly 9 ASCII digits, AAAGGSSSS) is a possible US Social Security
/// number: area not 000, 666 or 900-999; group not 00; serial not 0000.
bool us_ssn(std::string_view digits);

/// Length of the IBANs of the country with ISO code `country` (two upper-case letters), or 0 when
/// that country does not issue IBANs. Covers the SWIFT IBAN registry and the countries whose
/// banks issue IBANs outside it (several African states, Iran).
int iban_length(std::string_view country);

/// True when `compact` (no spaces) is a well-formed IBAN: a known country, that country's length,
/// two check digits, an upper-case alphanumeric BBAN, and the ISO 7064 mod 97-10 check == 1.
bool iban(std::string_view compact);

/// True when `text` is exactly a dotted-quad IPv4 address: four decimal octets <= 255 without
/// leading zeros (so `01.02.03.04`, a date-like shape, is not an address).
bool ipv4(std::string_view text);

/// True when `text` (at most 45 bytes) is an IPv6 address in any textual form inet_pton accepts:
/// full, compressed (`::`) or with an embedded IPv4 tail.
bool ipv6(std::string_view text);

/// True when `segment`, the first base64url segment of a JWT, decodes to a JSON object whose first
/// member is a registered JOSE header parameter (`{"alg"`, `{"typ"`, `{"kid"`, ...).
bool jwt_header(std::string_view segment);

}  // namespace sb::policies::validators
