#pragma once
// The built-in detection rules behind policies/detector.h: Hyperscan expressions that find
// candidate values, each paired with the checks that recover a candidate from the scanned buffer
// and decide whether it is a real value of their entity.
//
// How a rule works. Each expression finds anchors: places where a value of some entities may end
// (the end of a run of digits and separators, the end of a token) or that every value contains (the
// `@` of an email address). Expressions that look at a value's end
// consume one byte of context after it (or match at the end of the buffer), so a long run yields
// one report where it ends, not one per offset. No expression needs start-of-match tracking: for
// each report, the rule's checks walk from the anchor over a bounded number of bytes to recover the
// candidate, check the context on both sides and run the validators (policies/validators.h). Work
// per report is bounded by the entities' maximum lengths, so a scan stays linear in its input
// whatever the input.
//
// Why anchors rather than one exact expression per format: Hyperscan runs expressions that start
// with a character class (digits, upper-case letters) as engines over the whole buffer, and their
// cost adds up; one shared expression for every digit-shaped entity (cards, SSNs, phone numbers,
// IPv4) and literal anchors for the rest keep a scan of ordinary text above 1 GB/s. The checks
// are the authority on formats; the expressions only have to find every candidate.
//
// The three expressions that start with a character class (the digit run, the IBAN and the
// international phone number) are not compiled either: Hyperscan ran them as engines over the
// whole buffer, about 1.8 instructions a byte of prose. Each has Anchors that report exactly the
// ends it would, derived from the buffer's runs of digits, which one vector search finds
// (detector_rules_digits.cc); the expressions stay in the table as their definition, and a test
// compares both on generated text.
//
// IPv6 addresses are found by a search of their colons instead (a Search, run beside the
// expressions): `::` is everywhere in source code (C++, Rust and PHP paths), where Hyperscan spent
// about 600 instructions on each report, and the eight-group form starts with a hexadecimal digit,
// which made its engine leave its start state on every `a`-`f` of ordinary text. Together they
// were half of a scan's cost on prose and four fifths on code.
//
// The rules see text after normalisation (policies/normalize.h): Unicode spaces, dashes and
// full-width forms already read as their ASCII counterparts, invisible characters are gone.
//
// Card numbers, SSNs, IBANs and international phone numbers may be glued to letters
// (`card4111...`, `ssn078-05-1120x`, `tel+1415...`) but not to more digits, and the letters glued
// to them must not touch a digit in turn (so a number inside a mixed alphanumeric token such as a
// hexadecimal hash is not a value). A card number does not follow 1-3 upper-case letters alone
// (`JD0143...` is a tracking number). National and North American phone numbers stand alone.
//
// Formats accepted (a "word character" is an ASCII letter, digit or `_`):
//  - credit_card: 13-19 digits, either contiguous or in groups separated by one space, dot, dash
//    or slash (the same separator throughout; first group of 4 digits, 3 to 5 groups, the others
//    of 3-8 digits, e.g. 4-4-4-4, 4-6-5, 4-4-4-4-3, or 4-8-4 when a number split across two texts
//    was joined); Luhn-valid; in a major network's IIN range with its length; 13 digits that carry
//    a valid EAN-13 check digit are a barcode. A contiguous run is not part of a decimal number
//    (`0.4111...`); groups separated by dots, dashes or slashes are not continued by the same
//    separator and more digits on either side (`1.4111.1111.1111.1111` is some longer identifier),
//    and grouped numbers are not preceded or followed by another group of exactly 4 digits (a
//    window of a longer run of 4-digit groups, such as a tracking number, is not a card).
//  - us_ssn: `AAA-GG-SSSS` with one space, dot, dash or slash as the separator (the same twice),
//    not continued by the same separator or a dot and more digits (`123-45-6789-1` is some other
//    identifier); or 9 contiguous digits when the text just before them (at most 16 bytes, same
//    line) follows the keyword `SSN`, `SS#`, `social security` or `soc sec` (case-insensitive).
//    Area 000, 666 and 900-999, group 00 and serial 0000 are rejected.
//  - iban: upper-case country code, 2 check digits and the BBAN, either contiguous or printed in
//    groups of 4 separated by one space, dot or dash (the same throughout; the last group may be
//    shorter); the country's length from the IBAN registry; mod 97 == 1. Not glued to an
//    upper-case letter or digit, except for the word `IBAN` itself (`IBANDE89...`); lower-case
//    letters may touch it.
//  - email: `local@domain.tld`; local part of [A-Za-z0-9._%+-] (at most 64, no leading, trailing or
//    double dot, not right after another `@`); at least two domain labels of letters, digits and
//    inner dashes (at most 63 each, 253 in all); a top-level domain of 2-63 letters; a trailing
//    dot is punctuation; not followed by `_` or `@`.
//  - phone: `+` and a country code, 8-15 digits with single space, dot or dash separators and at
//    most one parenthesised group (`+1 (415) 555-2671`, `+44 20 7946 0958`, `+14155552671`);
//    North American `(415) 555-2671`, `415-555-2671`, `415.555.2671`, `415 555 2671` (same
//    separator twice unless the area code is in parentheses; area and exchange start with 2-9),
//    optionally after `1-`/`+1 `; national numbers with a trunk `0` (`020 7946 0958`,
//    `01 23 45 67 89`, `030-12345678`, `030/12345678`): groups separated by one consistent
//    separator (space, dot, dash or slash), 10-12 digits. A bare run of digits, a date or a version
//    number is not a phone number. National and North American forms must not continue with a
//    separator and more digits, nor touch a time or ratio (`19:01 0199 70309`).
//  - ip_address: dotted-quad IPv4 (octets <= 255, no leading zeros) not inside a longer dotted or
//    digit run (`1.2.3.4.5`), not adjacent to a word character and not right after a word that
//    announces a version (`version`, `ver`, `release`, `build`, `firmware`, `kernel`); IPv6 in any
//    form inet_pton accepts (containing `::` or all eight groups), not adjacent to a word
//    character.
//  - aws_access_key: `AKIA`/`ASIA` + 16 upper-case letters or digits, not adjacent to a letter or
//    digit.
//  - github_token: `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` + 36 letters or digits; `github_pat_` + 22
//    + `_` + 59; not adjacent to a word character.
//  - openai_key: `sk-` + 48 letters or digits (legacy); `sk-proj-`/`sk-svcacct-`/`sk-admin-` +
//    40-250 of [A-Za-z0-9_-]; any `sk-` key of 32-250 such characters containing `T3BlbkFJ`
//    (base64 of "OpenAI", embedded in OpenAI keys). Not `sk-ant-`.
//  - anthropic_key: `sk-ant-` + a kind and version (`api03-`, `admin01-`) + 32-250 of
//    [A-Za-z0-9_-].
//  - slack_token: `xoxa-`, `xoxb-`, `xoxp-`, `xoxo-`, `xoxr-` or `xoxs-` + at least two
//    dash-separated segments, the first all digits, 20-250 characters after the prefix.
//  - private_key: a PEM/PGP armour header `-----BEGIN [KIND ]PRIVATE KEY[ BLOCK]-----`.
//  - jwt: three base64url segments separated by dots, the first starting with `eyJ` and decoding
//    to a JSON object whose first member is a JOSE header parameter (`{"alg"`, `{"typ"`, ...),
//    the signature at least 16 characters; at most 16 KiB.
//  - service tokens that carry a prefix of their own, standing alone (not continued by a character
//    of the token, nor preceded by one): google_api_key `AIza` + 35 of [A-Za-z0-9_-] (Google
//    Cloud, Gemini, Maps, Firebase); stripe_key `sk_live_`/`rk_live_`/`sk_test_`/`rk_test_` +
//    10-247 letters or digits (secret and restricted keys; publishable `pk_` keys are public by
//    design); gitlab_token `glpat-` + 20-300 of [A-Za-z0-9_-] (a personal access token; a
//    routable one is found by that part, before its `.` and checksum); huggingface_token `hf_` +
//    34 letters or digits; openrouter_key `sk-or-v1-` + 64 lower-case hexadecimal digits;
//    deepseek_key `sk-` + 32 lower-case hexadecimal digits (DeepSeek's keys, and Alibaba Cloud
//    Model Studio's, which share the form). The last two are further checks of the `sk-` reports.
//  - service tokens found from the runs of digits their bodies hold, not by Hyperscan
//    (token_anchors): npm_token `npm_` + 36 letters or digits; groq_key `gsk_` + 52; xai_key
//    `xai-` + 80; perplexity_key `pplx-` + 48; standing alone (npm's and Groq's may be followed by
//    a `-`). A digit run glued to a token character is walked
//    back over the letters and digits before it to the prefix's `_` or `-`: a number standing
//    alone costs a test, and a walk stops where the last one ended, so each byte is walked once. A
//    body without a single digit is not found: about 1 npm token in 560, 1 Perplexity key in 4,600,
//    1 Groq key in 9,400, an xAI key almost never.
//  - url_credentials: `scheme://[user]:password@host[:port]` (a check of the email rule's `@`
//    reports: a connection string's `password@host` is no address): a scheme of letters, digits,
//    `+`, `.` and `-` starting with a letter; a userinfo of up to 256 printable bytes other than
//    `/ ? # " ' < > \ [ ] ( ) , ;` and the backtick, split at its first `:` (a raw `@` in the
//    password is taken, the last `@` ends it); a host name or bracketed IPv6 literal. A password
//    that only stands for one is not a value: `password`, `passwd`, `pass`, `pwd`, `pw`, `secret`,
//    `changeme` and `your_password`-like words (case ignored), one character repeated (`****`), or
//    a template's slot (`$VAR`, `${VAR}`, `<...>`, `{...}`, `{{ ... }}`, `%s`, `%(name)s`). The
//    value runs from the scheme to the host's end (and port), so the reserved example domains
//    count for nothing (policies/detector_allow.h).
//  - credential (a Search, detector_rules_credential.cc, not an expression): a value written after
//    a name that says it is one, with `:` or `=` between them (also `:=`, `=>`, `==`; at most 8
//    spaces each side, and up to two closing quotes or brackets after the name: `"password": `,
//    `$cfg['db_pass'] =`, `env["TOKEN"]=`). The name is the run of [A-Za-z0-9_.-] before them
//    (its last 64 bytes), compared without case and separators: it ends in `password`, `passwd`,
//    `passphrase`, `secret`, `token`, `apikey`, `accesskey`, `privatekey`, `secretkey` or
//    `authorization`, or in `_pass`, `.pass`, `-pass`, `_pwd`, `.pwd`, `-pwd` (not `PWD`, the
//    shell's directory); not a pagination, request or lock token nor a tokenizer's special one
//    (`next_page_token`, `ClientToken`, `eos_token`, ...); not a segment of a path (after a `:`:
//    ARNs, `AWS::X::ApiKey`; nor before `::`). Or after a command-line option of such a name and
//    a space (`--password Sup3rS3cret`: `--` after a space, a quote or a line's start; a value
//    starting with `-` is the next option). The value is quoted (to the same quote on its
//    line) or bare (to a space or one of `" ' ` , ; ) ] } < > & |`), 6 to 256 bytes for a
//    password, 8 to 256 for the rest, without spaces; an Authorization value's scheme word
//    (`Bearer`, `Basic`, ...) is skipped. It is not a value when it stands for one (a placeholder
//    as for url_credentials, a template's slot or reference starting with `$ % < { [ ( * / ~ . &
//    @ # \ !`, a URI or reference such as `vault:...` or `op://...`, text holding `example`,
//    `placeholder`, `dummy`, `redacted`, `changeme`, `xxxx`, `your_`, `...`; a word such as
//    `true`, `none`, `required`), a constant's name (`MY_API_KEY`), a type's name
//    (`V1SecretProjection`), or, bare, code: a call, an index, an optional chain, a comparison, a
//    conditional, an assignment to a name (minified JavaScript), a name or dotted path without a
//    digit at one end (`self.password`, `config.SECRET_KEY`), a snake_case name ending in a
//    word, or anything followed on its line by punctuation or an operator rather than
//    the line's end, a comment, a quote or the next argument (`password: Uint8Array,`). It has
//    letters and digits, or three of lower case, upper case, digits and other characters; a
//    password may be digits alone, an Authorization credential mixed-case letters alone (base64
//    of `user:password`). Not found: a name and its value on lines of their own (a JSON member of
//    the body as the scanned text holds it; JSON inside strings, such as tool arguments, keeps
//    its colons), short options (`-p hunter2`, `-u user:pass`), passwords of one case of letters
//    alone (`letmein`), passphrases with spaces. The `:`, `=` and `--` of each 64-byte block are
//    found at once (the colons of `::` dropped); a table of the byte before each operator rules
//    most out; a value is walked at most once (operators inside a value already walked are
//    skipped), so a scan stays linear.
//
// What a literal costs. Hyperscan's literal matcher keeps its fast form up to some number of
// literals (built-in and custom together), then takes about 0.7 instructions a byte more: a 20 KB
// conversation's scan went from 22,000 to 37,000 instructions. The service tokens' four
// expressions (OpenRouter's keys are reports of the `sk-` expression; Stripe's are found by
// `k_live_` and `k_test_`, not four literals) cost 900 on the conversation and 4,300 on source
// code, and leave room for three to five custom literals before that step (six or more before
// them). The step moves with the literals' bytes, not only their count: measure before adding one.
// It is not monotonic either: the npm, Groq, xAI and Perplexity prefixes as expressions (or as one
// alternation) cost 14,500 more on the conversation, and so did taking the token expressions
// above out of the table; those four are found from the runs of digits instead (2,500 on the
// conversation, 5,900 on the source code, which has more digits glued to words).
//
// Private to the policies library.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sb::policies::rules {

/// Where an accepted value lies in the scanned buffer: [begin, end).
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
};

/// Recovers and validates a candidate around the anchor that Hyperscan reported ending at `to` in
/// `buf`. Returns true and sets `out` when it is a real value.
using Extractor = bool (*)(std::string_view buf, std::size_t to, Span& out);

/// One entity's check of a rule's reports.
struct Check {
  std::string_view entity;  ///< a name from config::builtin_entities()
  Extractor extract;
  /// Run only when the rule's shape of the report has one of these bits; 0 = always.
  unsigned shapes = 0;
};

/// Classifies a report cheaply (a bit set of shapes) so that checks that cannot apply are skipped.
using Shaper = unsigned (*)(std::string_view buf, std::size_t to);

/// Shapes of the end of a digit run, from its last two digit groups.
/// A separator is one space, dot, dash or slash.
inline constexpr unsigned kShapeLongRun = 1u << 0;        ///< >= 13 digits in a row
inline constexpr unsigned kShapeGroups = 1u << 1;         ///< >= 3 digits, a separator, digits
inline constexpr unsigned kShapeSsn = 1u << 2;            ///< 2 digits, a separator, 4 digits
inline constexpr unsigned kShapeNorthAmerican = 1u << 3;  ///< 3 digits, a separator, 4 digits
inline constexpr unsigned kShapeNational = 1u << 4;       ///< >= 2 digits, a separator, >= 2
inline constexpr unsigned kShapeDottedQuad = 1u << 5;     ///< 1-3 digits, a dot, 1-3 digits

/// Appends, in increasing order, every end the rule's expression reports in `buf`, found from
/// the buffer's runs of digits (`runs`, from digit_runs()) instead of by Hyperscan.
using Anchors = void (*)(std::string_view buf, std::span<const Span> runs,
                         std::vector<std::size_t>& ends);

/// One Hyperscan expression and the checks run on each of its reports (each check that accepts
/// adds a value of its entity).
struct Rule {
  /// NUL-terminated, Hyperscan syntax; nullptr for a rule that has only its anchors (what they
  /// report is no expression Hyperscan runs cheaply: the service tokens found from digit runs).
  const char* expression;
  unsigned flags;          ///< HS_FLAG_* for this expression
  std::span<const Check> checks;
  Shaper shape = nullptr;  ///< nullptr: every check runs on every report
  /// When set, the expression is not compiled: these anchors report where it would have.
  Anchors anchors = nullptr;
};

/// Every built-in rule.
std::span<const Rule> builtin_rules();

/// Appends the span of every value of an entity in `buf` to `out` (a value may be appended more
/// than once: overlapping spans are one value).
using Finder = void (*)(std::string_view buf, std::vector<Span>& out);

/// An entity's values found by a search of the buffer, beside the expressions.
struct Search {
  std::string_view entity;  ///< a name from config::builtin_entities()
  Finder find;
};

/// Every built-in search.
std::span<const Search> builtin_searches();

/// Appends every maximal run of ASCII digits in `buf`, in order: what the anchored rules start
/// from, found once per scan.
void digit_runs(std::string_view buf, std::vector<Span>& out);

/// Escapes `literal` for use inside a Hyperscan expression (every byte that is not an ASCII
/// letter or digit becomes `\xHH`).
void append_escaped(std::string_view literal, std::string& out);

}  // namespace sb::policies::rules
