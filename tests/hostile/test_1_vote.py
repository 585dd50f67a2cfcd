"""Bad requests to vote, straight and through ui/vote/nginx.conf.

Each one carries, where it can, a plausible vote "b" for the known voter
(who voted "a"): accepting it by mistake would change a vote, which the
session's end catches (conftest.afterwards). Every answer must be a 4xx with a JSON body
{"error": "..."}, whether vote, civetweb or nginx gives it.
"""
import json

import pytest

from conftest import KNOWN_VOTER
from support.http import is_json_4xx, request, send_raw

K = KNOWN_VOTER.encode()
JSON = (b"Content-Type", b"application/json")
FORM = (b"Content-Type", b"application/x-www-form-urlencoded")
COOKIE_K = (b"Cookie", b"voter_id=" + K)
VOTE_B = json.dumps({"vote": "b", "voter_id": KNOWN_VOTER}).encode()
VOTE_B_NO_ID = b'{"vote":"b"}'


def post(body, headers=(JSON,), path=b"/api/vote"):
    return request(b"POST", path, headers, body)


def json_with(**fields):
    return json.dumps(dict({"vote": "b", "voter_id": KNOWN_VOTER},
                           **fields)).encode()


CASES = {
    # -- bodies ------------------------------------------------------------
    "body_5k_valid_json": post(VOTE_B[:-1] + b" " * 5000 + b"}"),
    "body_20k": post(VOTE_B[:-1] + b" " * 20000 + b"}"),
    "body_huge_content_length": request(
        b"POST", b"/api/vote", (JSON, (b"Content-Length", b"99999999999")),
        VOTE_B),
    "json_truncated": post(VOTE_B[:-1]),
    "json_array": post(b'["b"]'),
    "json_string": post(b'"b"'),
    "json_duplicate_vote": post(
        b'{"vote":"a","vote":"b","voter_id":"' + K + b'"}'),
    "json_option_escaped_nul": post(json_with(vote="b\u0000")),
    "json_option_crlf": post(json_with(vote="b\r\n")),
    "json_option_unknown": post(json_with(vote="c")),
    "json_option_subject": post(json_with(vote="b.>")),
    "json_option_null": post(json_with(vote=None)),
    "json_option_list": post(json_with(vote=["b"])),
    "json_option_number": post(json_with(vote=2)),
    "json_option_fullwidth": post(json_with(vote="\uff42")),
    "json_option_invalid_utf8": post(
        b'{"vote":"b\xff","voter_id":"' + K + b'"}'),
    "json_deep_nesting": post(b'{"vote":"b","x":' + b"[" * 4000 + b"}"),
    "json_trailing_nul": post(VOTE_B + b"\x00junk"),
    "json_trailing_garbage": post(VOTE_B + b"{}"),
    "json_bom": post(b"\xef\xbb\xbf" + VOTE_B),
    "json_voter_crlf": post(json_with(voter_id=KNOWN_VOTER + "\r\nX: 1")),
    "json_voter_escaped_nul": post(json_with(voter_id=KNOWN_VOTER + "\u0000")),
    "json_voter_raw_nul": post(
        b'{"vote":"b","voter_id":"' + K + b'\x00"}'),
    "json_voter_non_ascii": post(json_with(voter_id=KNOWN_VOTER + "\u00e9")),
    "json_voter_invalid_utf8": post(
        b'{"vote":"b","voter_id":"' + K + b'\xc3"}'),
    "json_voter_65": post(json_with(voter_id="x" * 65)),
    "json_voter_number": post(json_with(voter_id=7)),
    "form_option_nul": post(b"vote=b%00", (FORM, COOKIE_K)),
    "form_option_crlf": post(b"vote=b%0D%0A", (FORM, COOKIE_K)),
    "form_option_bad_escape": post(b"vote=%zz", (FORM, COOKIE_K)),
    "form_option_non_ascii": post(b"vote=%C3%A9", (FORM, COOKIE_K)),
    "form_option_invalid_utf8": post(b"vote=b%FF", (FORM, COOKIE_K)),
    "form_option_raw_invalid_utf8": post(b"vote=\xff", (FORM, COOKIE_K)),
    "form_no_option": post(b"voter=b", (FORM, COOKIE_K)),
    "form_name_only": post(b"vote", (FORM, COOKIE_K)),
    "form_empty": request(b"POST", b"/api/vote",
                          (FORM, COOKIE_K, (b"Content-Length", b"0"))),
    # -- content types -----------------------------------------------------
    "type_text_plain": post(VOTE_B, ((b"Content-Type", b"text/plain"),)),
    "type_xml": post(VOTE_B, ((b"Content-Type", b"application/xml"),)),
    "type_multipart": post(
        b'--x\r\nContent-Disposition: form-data; name="vote"\r\n\r\nb\r\n'
        b"--x--\r\n", ((b"Content-Type", b"multipart/form-data; boundary=x"),
                       COOKIE_K)),
    "type_jsonp": post(VOTE_B, ((b"Content-Type", b"application/jsonp"),)),
    "type_form_longer": post(b"vote=b", ((
        b"Content-Type", b"application/x-www-form-urlencodedx"), COOKIE_K)),
    "type_json_form_body": post(b"vote=b", (JSON, COOKIE_K)),
    "type_form_json_body": post(VOTE_B, (FORM, COOKIE_K)),
    "type_raw_cr": post(VOTE_B, ((b"Content-Type", b"application/json\rX"),)),
    "type_raw_nul": post(VOTE_B, ((b"Content-Type", b"application/json\x00"),)),
    "type_non_ascii": post(VOTE_B, ((b"Content-Type",
                                     b"application/json\xc3\xa9"),)),
    # -- cookies (the voter comes from the cookie) -------------------------
    "cookie_duplicate": post(VOTE_B_NO_ID, (
        JSON, (b"Cookie", b"voter_id=" + K + b"; voter_id=someone-else"))),
    "cookie_duplicate_headers": post(VOTE_B_NO_ID, (
        JSON, COOKIE_K, (b"Cookie", b"voter_id=someone-else"))),
    "cookie_empty": post(VOTE_B_NO_ID, (JSON, (b"Cookie", b"voter_id="))),
    "cookie_encoded_crlf": post(VOTE_B_NO_ID, (
        JSON, (b"Cookie", b"voter_id=" + K + b"%0D%0A"))),
    "cookie_encoded_nul": post(VOTE_B_NO_ID, (
        JSON, (b"Cookie", b"voter_id=" + K + b"%00"))),
    "cookie_raw_cr": post(VOTE_B_NO_ID, (
        JSON, (b"Cookie", b"voter_id=" + K + b"\rX"))),
    "cookie_raw_nul": post(VOTE_B_NO_ID, (
        JSON, (b"Cookie", b"voter_id=" + K + b"\x00"))),
    "cookie_non_ascii": post(VOTE_B_NO_ID, (
        JSON, (b"Cookie", b"voter_id=" + K + b"\xc3\xa9"))),
    "cookie_invalid_utf8": post(VOTE_B_NO_ID, (
        JSON, (b"Cookie", b"voter_id=\xff\xfe"))),
    "cookie_65": post(VOTE_B_NO_ID, (JSON, (b"Cookie", b"voter_id=" +
                                            b"x" * 65))),
    "cookie_form_duplicate": post(b"vote=b", (
        FORM, (b"Cookie", b"voter_id=" + K + b";voter_id=x"))),
    # -- headers and framing -----------------------------------------------
    "header_raw_nul": post(VOTE_B, (JSON, (b"X-Note", b"a\x00b"))),
    "header_no_colon": post(VOTE_B, (JSON, (b"NoColon", b"")))
    .replace(b"NoColon: \r\n", b"NoColon\r\n"),
    "header_space_in_name": post(VOTE_B, (JSON, (b"X Note", b"1"))),
    "header_20k": post(VOTE_B, (JSON, (b"X-Big", b"a" * 20000))),
    "header_cookie_20k": post(VOTE_B, (JSON, (b"Cookie", b"voter_id=" + K +
                                              b"; pad=" + b"p" * 20000))),
    "two_content_lengths": request(b"POST", b"/api/vote", (
        JSON, (b"Content-Length", b"%d" % len(VOTE_B)),
        (b"Content-Length", b"5")), VOTE_B),
    "length_and_chunked": request(b"POST", b"/api/vote", (
        JSON, (b"Content-Length", b"%d" % len(VOTE_B)),
        (b"Transfer-Encoding", b"chunked")), VOTE_B),
    "length_negative": request(b"POST", b"/api/vote", (
        JSON, (b"Content-Length", b"-1")), VOTE_B),
    "length_junk": request(b"POST", b"/api/vote", (
        JSON, (b"Content-Length", b"12x")), VOTE_B),
    "chunked_bad_size": request(b"POST", b"/api/vote", (
        JSON, (b"Transfer-Encoding", b"chunked")),
        b"zz\r\n" + VOTE_B + b"\r\n0\r\n\r\n"),
    # -- paths -------------------------------------------------------------
    "path_encoded_nul": post(VOTE_B, path=b"/api/vote%00"),
    "path_encoded_nul_more": post(VOTE_B, path=b"/api/vote%00.json"),
    "path_root_encoded_nul": post(b"vote=b", (FORM, COOKIE_K), b"/%00"),
    "path_raw_nul": post(VOTE_B, path=b"/api/vo\x00te"),
    "path_encoded_crlf": post(VOTE_B, path=b"/api/vote%0D%0A"),
    "path_raw_cr": post(VOTE_B, path=b"/api/vote\rX"),
    "path_non_ascii": post(VOTE_B, path=b"/api/vot\xc3\xa9"),
    "path_invalid_utf8": post(VOTE_B, path=b"/api/vote\xff"),
    "path_20k": post(VOTE_B, path=b"/api/vote/" + b"a" * 20000),
    "path_traversal": request(b"GET", b"/../../../etc/passwd"),
    "path_encoded_traversal": request(b"GET", b"/%2e%2e/%2e%2e/etc/passwd"),
    # -- query strings (GET /api/vote looks the voter up) -------------------
    "query_voter_encoded_nul": request(
        b"GET", b"/api/vote?voter_id=" + K + b"%00x"),
    "query_voter_encoded_crlf": request(
        b"GET", b"/api/vote?voter_id=" + K + b"%0D%0ASet-Cookie:%20x=1"),
    "query_voter_non_ascii": request(b"GET", b"/api/vote?voter_id=%C3%A9"),
    "query_voter_raw_invalid_utf8": request(
        b"GET", b"/api/vote?voter_id=\xff"),
    "query_voter_empty": request(b"GET", b"/api/vote?voter_id="),
    "query_voter_65": request(b"GET", b"/api/vote?voter_id=" + b"x" * 65),
    "query_voter_bad_escape": request(b"GET", b"/api/vote?voter_id=%zz"),
    # -- methods and request lines -----------------------------------------
    "method_put": request(b"PUT", b"/api/vote", (JSON,), VOTE_B),
    "method_delete": request(b"DELETE", b"/api/vote"),
    "method_patch": request(b"PATCH", b"/api/vote", (JSON,), VOTE_B),
    "method_trace": request(b"TRACE", b"/api/vote"),
    "method_options_put": request(b"PUT", b"/api/options", (JSON,), VOTE_B),
    "method_garbage": request(b"V\x00TE", b"/api/vote", (JSON,), VOTE_B),
    "request_line_garbage": b"GARBAGE\r\n\r\n",
    "request_line_extra_word": request(b"POST", b"/api/vote x", (JSON,),
                                      VOTE_B),
    "version_unknown": request(b"POST", b"/api/vote", (JSON,), VOTE_B,
                               version=b"HTTP/9.9"),
    "version_garbage": request(b"POST", b"/api/vote", (JSON,), VOTE_B,
                               version=b"HTTX/1.1"),
}

# An HTTP version the server does not speak is answered 505, which is the
# status RFC 9110 names for it.
ALSO = {"version_unknown": (505,)}

# What nginx repairs before vote sees it: well-formed by then, so not a
# case through nginx (a header line without a colon: nginx 1.22 reads it as
# a header with an empty value).
NGINX_REPAIRS = {"header_no_colon"}


@pytest.mark.parametrize("target,case", [
    (target, case) for target in ("vote", "vote-nginx") for case in sorted(CASES)
    if not (target == "vote-nginx" and case in NGINX_REPAIRS)])
def test_refused_with_json(before, ports, target, case):
    answer = send_raw(ports[target], CASES[case])
    problem = is_json_4xx(answer, ALSO.get(case, ()))
    assert not problem, problem
