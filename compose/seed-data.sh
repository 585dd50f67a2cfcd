#!/bin/sh
# seed-data.sh - the command of the root Dockerfile's seed-data image (the
# compose profile `seed`): casts SEED_VOTES votes through vote-ui, as a crowd
# would, so that a demo starts with a live results page (the classic app's
# seed-data: 3,000 votes through the vote page). Every vote comes from a new
# voter (voter ids seed-RUN-I, RUN random for each run, so a second run adds
# as many votes again), both options in a fixed mix spread over the run,
# SEED_CONCURRENCY voters at a time. Each vote is one `votectl vote` (POST
# /api/vote through vote-ui's nginx, as the page does), tried up to 3 times.
# A crowd comes from many addresses, and vote limits votes per address
# (VOTE_RATE_PER_MIN): so each voter comes from an address of its own, as
# traefik would forward it, through vote-ui's proxy listener (8081, which
# appends to X-Forwarded-For) with `votectl vote --from`: 198.18.0.0/15,
# the block set aside for benchmarks (RFC 2544), which no real client has.
# Nothing is sent to those addresses; they are only named in a header.
# A POSIX shell script with builtins only (dash in the image, FROM scratch:
# no mkdir, cat or rm there).
#   SEED_VOTES        how many votes (3000), 1-1000000
#   SEED_A_PERCENT    the share of option a, in percent (67), 0-100
#   SEED_CONCURRENCY  voters at a time (4), 1-64
#   VOTE_URL          vote-ui's proxy listener (http://vote-ui:8081)
# Prints one line per lane and a summary; exits 0 when every vote was
# answered 200, 1 when some were not, 2 on a bad setting (named).
set -u
export VOTE_URL="${VOTE_URL:-http://vote-ui:8081}"

# setting NAME VALUE MIN MAX: VALUE, an integer in [MIN, MAX], or exit 2
setting() {
  case "$2" in
    '' | *[!0-9]*) ;;
    *) if [ "${#2}" -le 7 ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then return 0; fi ;;
  esac
  echo "seed-data: $1=\"$2\": an integer from $3 to $4 expected" >&2
  exit 2
}
n=${SEED_VOTES:-3000}
pa=${SEED_A_PERCENT:-67}
lanes=${SEED_CONCURRENCY:-4}
setting SEED_VOTES "$n" 1 1000000
setting SEED_A_PERCENT "$pa" 0 100
setting SEED_CONCURRENCY "$lanes" 1 64
[ "$lanes" -le "$n" ] || lanes=$n

# this run's id: 8 hex digits of a random uuid
read -r run </proc/sys/kernel/random/uuid
run=${run%%-*}
tmp=${TMPDIR:-/tmp}/seed-data.$run   # lane K writes $tmp.K

# The option of voter I: (I * 37) mod 100 runs over 0..99 in every 100
# voters (37 and 100 are coprime), so exactly SEED_A_PERCENT of each hundred
# vote a, spread over the run rather than all a first.
# Lane K: voters K, K+lanes, K+2*lanes, ...; writes "cast a b failed".
lane() {
  i=$1 cast=0 a=0 b=0 failed=0
  while [ "$i" -lt "$n" ]; do
    if [ $((i * 37 % 100)) -lt "$pa" ]; then o=a; else o=b; fi
    t=0
    while [ "$t" -lt 3 ]; do
      # voter I's address: 198.18.0.0 + I mod 131072
      from=198.$((18 + i / 65536 % 2)).$((i / 256 % 256)).$((i % 256))
      if out=$(votectl vote "$o" --voter "seed-$run-$i" --from "$from" 2>&1); then
        break
      fi
      t=$((t + 1))
    done
    if [ "$t" -lt 3 ]; then
      cast=$((cast + 1))
      if [ "$o" = a ]; then a=$((a + 1)); else b=$((b + 1)); fi
    else
      failed=$((failed + 1))
      [ "$failed" -le 3 ] && echo "seed-data: voter seed-$run-$i: $out" >&2
    fi
    i=$((i + lanes))
  done
  echo "$cast $a $b $failed" >"$tmp.$1"
}

read -r up0 _ </proc/uptime
echo "seed-data: casting $n votes through $VOTE_URL ($pa% a), $lanes at a time, voters seed-$run-0.."
k=0
while [ "$k" -lt "$lanes" ]; do
  lane "$k" &
  k=$((k + 1))
done
wait

cast=0 a=0 b=0 failed=0 k=0
while [ "$k" -lt "$lanes" ]; do
  if read -r c x y f <"$tmp.$k"; then
    cast=$((cast + c)) a=$((a + x)) b=$((b + y)) failed=$((failed + f))
  else
    echo "seed-data: lane $k did not finish" >&2
    failed=$((failed + 1))
  fi
  k=$((k + 1))
done
read -r up1 _ </proc/uptime
# /proc/uptime in seconds with 2 decimals: elapsed time in hundredths (1NN
# - 100: no leading zero, which $(( )) would read as octal)
cs=$(( (${up1%.*} * 100 + 1${up1#*.} - 100) - (${up0%.*} * 100 + 1${up0#*.} - 100) ))
[ "$cs" -gt 0 ] || cs=1
echo "seed-data: $cast votes cast (a: $a, b: $b), $failed failed, in $((cs / 100)).$((cs % 100 / 10)) s ($((cast * 100 / cs)) votes/s)"
[ "$failed" = 0 ]
