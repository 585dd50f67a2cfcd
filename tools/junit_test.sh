#!/usr/bin/env bash
# tools/junit-write and tools/junit-summary on made-up results: what counts
# as passed, failed and neither, what a missing, unreadable or empty suite
# counts, the exit-status guard, and Bazel's test.xml files (a failed
# target with its cmocka lines, a missing one, shards, a failed build).
set -uo pipefail
W=tools/junit-write
S=tools/junit-summary
T=$(mktemp -d "${TEST_TMPDIR:-/tmp}/junit.XXXXXX")
trap 'rm -rf "$T"' EXIT
bad=0
fail() { echo "FAIL: $*"; bad=1; }
# has TEXT: the last summary printed TEXT (a whole line with ^...$)
has() { grep -qE -- "$1" "$T/out" || fail "no line matching '$1' in:
$(cat "$T/out")"; }
summary() { "$S" "$@" >"$T/out" 2>&1; echo $? >"$T/rc"; }
status_is() { [ "$(cat "$T/rc")" = "$1" ] || fail "exit status $(cat "$T/rc"), not $1"; }

# -- counting: pass, failure, error, skip; pytest's shape -------------------
mkdir "$T/a"
cat >"$T/a/py.xml" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
<testcase classname="tests.helm.test_x" name="test_ok"/>
<testcase classname="tests.helm.test_x" name="test_bad"><failure message="AssertionError: one&#10;two">trace</failure></testcase>
<testcase classname="tests.helm.test_x" name="test_err"><error message="fixture broke"/></testcase>
<testcase classname="tests.helm.test_x" name="test_skip"><skipped message="no"/></testcase>
<testcase classname="tests.helm.test_x" name="test_ok2"/>
</testsuite></testsuites>
EOF
summary "$T/a"
status_is 1
has '^py +2 passed, 2 failed, 1 skipped$'
has '^FAIL py: tests.helm.test_x::test_bad$'
has '^    AssertionError: one$'
has '^    two$'
has '^FAIL py: tests.helm.test_x::test_err$'
has '^    fixture broke$'
has '^2 passed, 2 failed$'

# -- node's reporter: testcases at the top, the cause in the text -----------
cat >"$T/a/browser.xml" <<'EOF'
<testsuites>
<testcase name="a &amp;quot;b&amp;quot;" classname="test"><failure type="hookFailed" message="failed running before hook">
[Error [ERR_TEST_FAILURE]: failed running before hook] {
  cause: Error: stack not up
}</failure></testcase>
<testsuite name="grp"><testcase name="inner" classname="test"/></testsuite>
</testsuites>
EOF
summary "$T/a/browser.xml"
has '^FAIL browser: a "b"$'
has '^    Error: stack not up$'
has '^1 passed, 1 failed$'   # the one inside <testsuite> too

# -- all passed: exit 0 ----------------------------------------------------
mkdir "$T/b"
"$W" case "$T/b/format.xml" clang-format
"$W" case "$T/b/fuzz.xml" one --time 1.5
"$W" case "$T/b/fuzz.xml" two
summary "$T/b"
status_is 0
has '^format +1 passed, 0 failed$'
has '^fuzz +2 passed, 0 failed$'
has '^3 passed, 0 failed$'
grep -q '== failed' "$T/out" && fail "a failure section with nothing failed"

# -- missing, unreadable, empty, expected and absent: one failure each ------
mkdir "$T/c"
echo 'not xml <' >"$T/c/broken.xml"
echo '<testsuites><testsuite name="x"/></testsuites>' >"$T/c/empty.xml"
"$W" case "$T/c/docs.xml" check-docs
summary --expect swarm --expect docs "$T/c" "$T/c/gone.xml"
status_is 1
has '^FAIL broken: broken$'
has '^FAIL empty: empty$'
has '^    no test in '
has '^FAIL gone: gone$'
has '^FAIL swarm: swarm$'
has '^    no JUnit XML file'
has '^1 passed, 4 failed$'

# -- a message with what XML cannot hold, and markup ------------------------
"$W" case "$T/c/fuzz.xml" crashy --failure $'ERROR: AddressSanitizer <&> "\x01\x1b[0m"\nSUMMARY: x'
summary "$T/c/fuzz.xml"
has '^    ERROR: AddressSanitizer <&> "\?\?\[0m"$'
has '^    SUMMARY: x$'

# -- status: a runner that failed with nothing failed in its results --------
mkdir "$T/d"
"$W" case "$T/d/cluster.xml" test_one
"$W" status "$T/d" cluster 2          # interrupted after one pass
"$W" status "$T/d" helm 0             # exit 0, no file: nothing added
"$W" status "$T/d" compose 1          # exit 1, no file at all
"$W" case "$T/d/swarm-a.xml" a --failure "pause too long"
"$W" status "$T/d" swarm 1            # its failure is counted already
summary --expect helm "$T/d"
has '^cluster +1 passed, 1 failed$'
has '^FAIL cluster: exit status$'
has '^    cluster exited with status 2'
has '^compose +0 passed, 1 failed$'
has '^FAIL helm: helm$'
has '^swarm-a +0 passed, 1 failed$'
grep -q '^swarm ' "$T/out" && fail "swarm's failure counted twice"
has '^1 passed, 4 failed$'

# -- Bazel -----------------------------------------------------------------
L=$T/testlogs
mkdir -p "$L/pkg/ok_test" "$L/pkg/bad_test" "$L/pkg/sharded_test/shard_1_of_2" \
         "$L/pkg/sharded_test/shard_2_of_2"
xml() {  # FILE [ERROR MESSAGE]
  { echo '<testsuites><testsuite name="t">'
    echo "<testcase name=\"t\" status=\"run\" time=\"2\">"
    [ -n "${2:-}" ] && echo "<error message=\"$2\"></error>"
    echo '</testcase></testsuite></testsuites>'; } >"$1"
}
xml "$L/pkg/ok_test/test.xml"
xml "$L/pkg/bad_test/test.xml" "exited with error code 1"
cat >"$L/pkg/bad_test/test.log" <<'EOF'
[ RUN      ] test_a
[  ERROR   ] --- x == 2
[   LINE   ] --- pkg/bad_test.c:10: error: Failure!
[  FAILED  ] test_a
[  FAILED  ] 1 test(s), listed below:
[  FAILED  ] test_a
EOF
xml "$L/pkg/sharded_test/shard_1_of_2/test.xml"
xml "$L/pkg/sharded_test/shard_2_of_2/test.xml" "exited with error code 134"
printf '//pkg:ok_test\n//pkg:bad_test\n//pkg:gone_test\n//pkg:sharded_test\n' |
  "$W" bazel "$L" 3 "$T/e.xml" >"$T/printed"
grep -q '^== //pkg:bad_test: end of its test.log$' "$T/printed" ||
  fail "the end of bad_test's log is not printed"
grep -q '^\[  ERROR   \] --- x == 2$' "$T/printed" || fail "its log lines are not printed"
summary "$T/e.xml"
has '^e +1 passed, 3 failed$'
has '^FAIL e: //pkg:bad_test$'
has '^    exited with error code 1$'
has '^    \[  ERROR   \] --- x == 2$'
has '^    \[   LINE   \] --- pkg/bad_test.c:10: error: Failure!$'
has '^    \[  FAILED  \] test_a$'
grep -q 'listed below' "$T/out" && fail "cmocka's closing list taken as a failure line"
has '^FAIL e: //pkg:gone_test$'
has '^    no test.xml in '
has '^FAIL e: //pkg:sharded_test$'
has '^    exited with error code 134 \(shard_2_of_2\)$'

printf 'ERROR: pkg/BUILD:3:8: Compiling pkg/a.c failed\npkg/a.c:4:5: error: expected expression\n' >"$T/build.log"
printf '//pkg:ok_test\n' | "$W" bazel "$L" 1 "$T/e.xml" "$T/build.log" >/dev/null
summary "$T/e.xml"
has '^FAIL e: bazel build$'
has '^    pkg/a.c:4:5: error: expected expression$'
has '^0 passed, 1 failed$'

[ "$bad" = 0 ] && echo "junit_test: ok"
exit "$bad"
