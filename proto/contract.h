/* contract.h - the wire contract besides the payload (vote.proto): the
 * names vote, the worker, result, votectl and the tests agree on. NATS:
 * stream, subjects, consumer, headers; Postgres: the NOTIFY channel; and
 * the option ids every vote carries. lib/jstream builds the streams'
 * settings (limits, replicas) from these names and is the one place that
 * creates them. Constants and one pure function; thread-safe. */
#ifndef PROTO_CONTRACT_H
#define PROTO_CONTRACT_H

/* Votes: each VoteCast is published on votes.<option>, kept in VOTES. */
#define CONTRACT_STREAM         "VOTES"
#define CONTRACT_SUBJECTS       "votes.>"
#define CONTRACT_SUBJECT_PREFIX "votes." /* + option: votes.a */

/* The worker's durable pull consumer on VOTES (explicit ack). */
#define CONTRACT_CONSUMER "worker"

/* Dead letters: a copy of each malformed vote, kept for diagnosis. */
#define CONTRACT_DL_STREAM   "DEADLETTER"
#define CONTRACT_DL_SUBJECTS "deadletter.>"
#define CONTRACT_DL_SUBJECT  "deadletter.votes"

/* Headers. The msg id makes a retried publish a duplicate, not a copy. */
#define CONTRACT_HDR_MSG_ID           "Nats-Msg-Id"
#define CONTRACT_HDR_REASON           "Voting-Deadletter-Reason"
#define CONTRACT_HDR_ORIGINAL_SUBJECT "Voting-Original-Subject"

/* Options. An id is what a vote carries everywhere: VoteCast.option, the
 * last token of its subject, votes.vote and tallies.vote in Postgres, the
 * "id" of /api/options and of result's snapshots. Labels ("Cats") are
 * configuration (OPTION_A, OPTION_B), at most CONTRACT_LABEL_MAX bytes. */
#define CONTRACT_N_OPTIONS     2
#define CONTRACT_OPTION_A      "a"
#define CONTRACT_OPTION_B      "b"
#define CONTRACT_OPTION_ID_MAX 8 /* bytes for an id and its NUL */
#define CONTRACT_LABEL_MAX     64

/* The ids, by index: [0] is "a", [1] is "b". */
extern const char *const CONTRACT_OPTIONS[CONTRACT_N_OPTIONS];

/* The index of option id in CONTRACT_OPTIONS, or -1 (NULL included). */
int contract_option_index(const char *id);

/* Voters: an id is 1-CONTRACT_VOTER_MAX characters of [A-Za-z0-9_-]
 * (VoteCast.voter_id, the voter_id cookie, votes.id in Postgres).
 * CONTRACT_VOTER_RULE says so in words, for error messages. */
#define CONTRACT_VOTER_MAX 64
#define CONTRACT_VOTER_RULE                                                    \
    "1-" CONTRACT_STR(CONTRACT_VOTER_MAX) " characters of A-Z a-z 0-9 _ -"

/* A number macro as a string literal: CONTRACT_STR(CONTRACT_VOTER_MAX) is
 * "64". For messages that name a limit. */
#define CONTRACT_STR(x)  CONTRACT_STR_(x)
#define CONTRACT_STR_(x) #x

/* 1 when id is a valid voter id. */
int contract_voter_ok(const char *id);

/* Postgres: the worker NOTIFYs this channel in each transaction that
 * changed the tallies; result LISTENs to it. */
#define CONTRACT_PG_CHANNEL "votes_changed"

#endif
