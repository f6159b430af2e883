/* SPDX-License-Identifier: MIT */
/*
 * logkeep.c - the `logkeep` command-line tool: put, get, del, load, scan
 * and verify on a data directory, through the public API (logkeep.h) and
 * libc only, so that it works on exactly what an embedding daemon sees.
 *
 * Design
 * ------
 * main() parses the global options (--help, --version) and hands the rest
 * of argv to one function per command, found in a table that also holds
 * each command's help text; the full manual and each command's --help are
 * printed from that one table.  Each command parses its own options with
 * getopt_long and returns an exit status.  cli.h lists the files: the
 * commands live in cli_kv.c, cli_load.c and cli_verify.c.
 *
 * Invariants
 * ----------
 *  - Exit statuses are the same for every command (see exit_text) and an
 *    lk_status becomes one in exactly one place, cli_exit_for().
 *  - stdout carries only the command's output (a value, records, the
 *    verify report); every diagnostic goes to stderr as
 *    "logkeep: <command>: <lk_strerror>: <lk_errmsg>".  lk_errmsg() is
 *    printed before any other engine call can replace it.
 *  - Nothing the user or the disk supplies can make the tool allocate
 *    without bound: a value on stdin stops at the value limit, a `load`
 *    line at the line limit, a batch at --batch records (or earlier, when
 *    the engine's batch limit says so); verify streams its problems.
 *  - Options come before DIR (getopt_long with "+"), so that a KEY or a
 *    VALUE such as "-1" is never taken for an option; "--" ends options.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char exit_text[] =
	"EXIT STATUS\n"
	"       The same for every command, one for each kind of outcome:\n"
	"       0  success.\n"
	"       1  no: get found no such key (absent, deleted, expired, or no\n"
	"          such namespace); verify found nothing but a torn tail, which\n"
	"          the next writing open cuts off.\n"
	"       2  usage error: a bad option or argument, malformed input, a\n"
	"          key, value or batch over a limit, or a DIR that does not\n"
	"          exist or is not a directory.\n"
	"       3  damage: the data fails a check or uses a format version\n"
	"          this logkeep does not know, or verify found damage;\n"
	"          import-sqlite rejected rows of DB (it imported the others).\n"
	"       4  I/O or other error: a file of DIR that cannot be read or is\n"
	"          not a regular file (a FIFO or a device under a segment's\n"
	"          or the LOCK's name; under a snapshot's, it is not used), a\n"
	"          failed read, write or sync, a full device, no memory, a\n"
	"          write error on standard output; import-sqlite in a logkeep\n"
	"          built without SQLite support.\n"
	"       5  busy: another process holds DIR for writing, or changed it\n"
	"          faster than a read-only open could read it.\n"
	"       6  too big: DIR holds more than this logkeep opens (more than\n"
	"          1000 segment files, or more keys than its index holds).\n";

/* ---------------------------------------------------------------------- */
/* The command table and the manual                                       */
/* ---------------------------------------------------------------------- */

static int cmd_help(const char *cmd, int argc, char **argv);

struct command {
	const char *name;
	int (*run)(const char *cmd, int argc, char **argv);
	const char *synopsis; /* after "logkeep " */
	const char *summary;  /* for NAME: "logkeep put - <summary>" */
	const char *text;     /* description and options, indented */
	const char *examples; /* EXAMPLES, indented; NULL if none */
	const char *text_more; /* the rest of text, printed after it, or
				  NULL: a string literal holds at most 4095
				  bytes in C99 (-Woverlength-strings) */
};

static const struct command commands[] = {
	{ "put", cmd_put,
	  "put [-n NS] [--ttl SECONDS] [--segment-size BYTES] [--memory-bytes BYTES] DIR KEY [VALUE]",
	  "store a value under a key",
	  "       Stores VALUE under KEY in namespace NS, creating DIR and the\n"
	  "       namespace when needed; put returns once the write is on disk.\n"
	  "       Without VALUE the value is read from standard input, at most\n"
	  "       1 MiB (1048576 bytes); a longer input is refused (exit 2).\n"
	  "       -n, --namespace NS     the namespace name (default \"default\")\n"
	  "       --ttl SECONDS          the record expires SECONDS from now;\n"
	  "                              an expired record is never returned\n"
	  "       --segment-size BYTES   start a new segment file past BYTES\n"
	  "                              (the engine checks its limits)\n"
	  "       --memory-bytes BYTES   the memory budget for the index and\n"
	  "                              mappings (lk_options.memory_bytes_max;\n"
	  "                              0, the default: none; else at least\n"
	  "                              65536): a new key the index cannot\n"
	  "                              hold within it is refused (exit 2,\n"
	  "                              \"limit exceeded\"), an overwrite is not\n",
	  "       logkeep put /var/lib/mesh greeting hello\n"
	  "              stores \"hello\" under the key greeting\n"
	  "       logkeep put -n config --ttl 3600 /var/lib/mesh token <token.bin\n"
	  "              a value from a file, in namespace config, that expires in an hour\n", NULL },
	{ "get", cmd_get, "get [-n NS] DIR KEY", "print the value of a key",
	  "       Writes the value of KEY to standard output byte for byte, with\n"
	  "       no newline added.  Opens DIR read-only.  When the key or the\n"
	  "       namespace is absent, deleted or expired, prints nothing and\n"
	  "       exits with status 1.\n"
	  "       -n, --namespace NS     the namespace name (default \"default\")\n",
	  "       logkeep get /var/lib/mesh greeting\n"
	  "              prints hello (no newline)\n"
	  "       logkeep get -n config /var/lib/mesh token >token.bin || echo absent\n"
	  "              the value byte for byte; status 1 when there is none\n", NULL },
	{ "del", cmd_del, "del [-n NS] DIR KEY", "delete a key",
	  "       Deletes KEY (writes a tombstone).  Deleting an absent key\n"
	  "       succeeds.\n"
	  "       -n, --namespace NS     the namespace name (default \"default\")\n",
	  "       logkeep del /var/lib/mesh greeting\n"
	  "              a get of greeting then exits with status 1\n", NULL },
	{ "load", cmd_load,
	  "load [-n NS] [--sync MODE] [--batch N] [--segment-size BYTES] [--memory-bytes BYTES] DIR",
	  "store KEY<TAB>VALUE lines read from standard input",
	  "       Reads lines of KEY, a TAB and VALUE from standard input and\n"
	  "       stores them, committing every N records as one atomic batch\n"
	  "       (sooner when a batch reaches the engine's batch size limit).\n"
	  "       The key ends at the first TAB and may not be empty; the value\n"
	  "       is the rest of the line, taken as is.  A line holds at most\n"
	  "       1025 + 1048576 bytes.  A malformed line stops the load with\n"
	  "       exit status 2 and its line number: nothing of its batch is\n"
	  "       stored, earlier batches stay.  Prints \"stored N records\".\n"
	  "       When standard error is a terminal, shows progress there.\n"
	  "       -n, --namespace NS     the namespace name (default \"default\")\n"
	  "       --sync MODE            always (default: each batch is on disk\n"
	  "                              before the next), interval, or none\n"
	  "                              (synced when DIR is closed)\n"
	  "       --batch N              records per batch (default 1000)\n"
	  "       --segment-size BYTES   start a new segment file past BYTES\n"
	  "       --memory-bytes BYTES   the memory budget for the index and\n"
	  "                              mappings (0, the default: none; else\n"
	  "                              at least 65536): the load stops at the\n"
	  "                              first batch whose new keys the index\n"
	  "                              cannot hold within it (exit 2, nothing\n"
	  "                              of that batch stored, earlier ones stay)\n",
	  "       printf 'a\\t1\\nb\\t2\\n' | logkeep load /var/lib/mesh\n"
	  "              stores a=1 and b=2 in one batch\n"
	  "       logkeep load --batch 10000 --sync none /srv/lk <dump.tsv\n"
	  "              a bulk load, synced once at the end\n", NULL },
	{ "scan", cmd_scan, "scan [-n NS] [--prefix P] DIR",
	  "print the records of a namespace",
	  "       Prints every live record of namespace NS as a line of KEY, a\n"
	  "       TAB and VALUE, in log order (not key order).  A TAB, newline or\n"
	  "       backslash is written \\t, \\n or \\\\, every other byte outside\n"
	  "       printable ASCII \\xHH, so each record is one line.  Opens DIR\n"
	  "       read-only; an absent namespace prints nothing.\n"
	  "       -n, --namespace NS     the namespace name (default \"default\")\n"
	  "       -p, --prefix P         only keys that start with P\n",
	  "       logkeep scan /var/lib/mesh\n"
	  "              every key and value of namespace default, one per line\n"
	  "       logkeep scan -n mesh.nodes -p node- /var/lib/mesh | wc -l\n"
	  "              how many keys start with node-\n", NULL },
	{ "verify", cmd_verify, "verify [--json] DIR",
	  "check every segment and record",
	  "       Checks every segment and record of DIR and changes nothing.\n"
	  "       Prints one line per problem, \"segment N offset O: what\"\n"
	  "       and the sequence numbers it affects in brackets, then\n"
	  "       the recovery report (what a read-only open would do) as\n"
	  "       \"field: value\" lines and a result line.  A torn tail (an\n"
	  "       incomplete last commit, which the next writing open cuts off)\n"
	  "       is exit status 1; any other problem is damage, status 3.\n"
	  "       --json                 print one JSON object on one line\n"
	  "                              instead, with the members problems\n"
	  "                              (kind, segment, offset, seq_first,\n"
	  "                              seq_last, file, what; kind is\n"
	  "                              torn_tail, corrupt, missing, foreign,\n"
	  "                              version, io, leftover, snapshot (one\n"
	  "                              open passes over: nothing is lost,\n"
	  "                              repair sets it aside), or ledger (the\n"
	  "                              mesh ledger's hash chain, checked\n"
	  "                              when DIR holds it); seq_first to\n"
	  "                              seq_last are the sequence numbers\n"
	  "                              whose records the problem takes from\n"
	  "                              what an open would apply, seq_last 0\n"
	  "                              meaning every one from seq_first on,\n"
	  "                              and both 0 none or not known),\n"
	  "                              ok (true\n"
	  "                              when DIR opens as it is, a torn tail\n"
	  "                              included), status, and report (the\n"
	  "                              recovery report's fields)\n",
	  "       logkeep verify /var/lib/mesh && echo clean\n"
	  "              the problems, the recovery report, and the verdict\n"
	  "       logkeep verify --json /var/lib/mesh | jq '.problems[] | {kind, segment, offset, seq_first, seq_last}'\n"
	  "              where each problem is, and which records it takes\n", NULL },
	{ "dump", cmd_dump,
	  "dump [--json] [--raw] [--segment N] [--from-seq A] [--to-seq B]\n"
	  "       [-n NS] [--key K] [--type T] [--live-only] DIR|SEGMENT_FILE",
	  "print every record as stored, damage included",
	  "       Prints every record of DIR (or of one segment file, whatever\n"
	  "       its name: a NAME.broken kept aside by repair too) in log\n"
	  "       order, with its segment, offset, length, sequence number,\n"
	  "       namespace, key, expiry and checksum status, and its value:\n"
	  "       the mesh collections field by field (nodes, policies with\n"
	  "       their YAML, path-cache entries, ledger entries with their\n"
	  "       hashes and chain status, telemetry), other values as text,\n"
	  "       or as hex (value_hex) when they are not clean UTF-8 text.\n"
	  "       A put or delete that names the older record of its key it\n"
	  "       replaced (format 3) shows it as replaces: segment,\n"
	  "       generation (when not 0) and offset.\n"
	  "       Bytes that hold no valid record are one damage item (offset,\n"
	  "       length, what is wrong); the dump goes on from the next valid\n"
	  "       record.  Read-only, no lock: works beside a writer and on a\n"
	  "       copy.  Shows progress on standard error when it is a\n"
	  "       terminal and the run takes more than a second.\n"
	  "       Exit status: 0 no damage; 1 only a torn tail (the next\n"
	  "       writing open cuts it); 3 damage; 2 and 4 as below.\n"
	  "       --json                 one JSON object per line instead of\n"
	  "                              one YAML document (a sequence)\n"
	  "       --raw                  values as text or hex, never decoded\n"
	  "       --segment N            only segment N\n"
	  "       --from-seq A, --to-seq B  only puts and deletes with a\n"
	  "                              sequence number from A to B\n"
	  "       -n, --namespace NS     only records of namespace NS\n"
	  "       --key K                only records of key K\n"
	  "       --type T               only items of kind T (below)\n"
	  "       --live-only            only the records a read of their key\n"
	  "                              returns (asks the index of a\n"
	  "                              read-only open: DIR must open)\n"
	  "       With -n, --key, a sequence range or --live-only, only puts\n"
	  "       and deletes are printed, and damage and discard items.\n"
	  "       Each item has kind, segment, file, offset, length\n"
	  "       (generation when not 0) and by kind:\n"
	  "         segment   format_version, seq_prev, record_seq_base,\n"
	  "                   db_id; or what, when its header is unreadable\n"
	  "         put, del  seq, namespace (when its catalog record was\n"
	  "                   read), namespace_id, key or key_hex, checksum\n"
	  "                   (ok or mismatch); puts: expires_at, value_bytes,\n"
	  "                   stored_bytes (compressed), and value or\n"
	  "                   value_hex, or for a mesh namespace mesh (what the\n"
	  "                   record is), value (its fields), value_problem,\n"
	  "                   chain (ledger entries: ok, broken, gap or\n"
	  "                   unchecked, against the entry before; the\n"
	  "                   ledger head: ok, broken, behind or unchecked,\n"
	  "                   against the last entry before it); warning: an\n"
	  "                   ordering rule it breaks\n"
	  "         commit, seal  records, durable_upto\n"
	  "         damage    what, torn_tail\n"
	  "         discard   records, seq_first, seq_last, what: a group\n"
	  "                   without its commit, which recovery never applies\n"
	  "         free      zero bytes after the data (not damage)\n"
	  ,
	  "       logkeep dump /var/lib/mesh | less\n"
	  "              every record, for a person\n"
	  "       logkeep dump --json -n mesh.ledger /var/lib/mesh | jq .value\n"
	  "              the ledger's entries and heads, field by field\n"
	  "       logkeep dump --type damage /var/lib/mesh\n"
	  "              only the damaged regions: where, how long, what\n"
	  "       logkeep dump 0000000000000003.seg.broken\n"
	  "              a file repair kept aside\n", NULL },
	{ "repair", cmd_repair, "repair [--yes] [--json] DIR",
	  "salvage a damaged directory: plan, or with --yes carry it out",
	  "       For a directory that a strict open refuses (damage in the\n"
	  "       log, a missing or duplicated segment, a damaged snapshot).\n"
	  "       Without --yes, prints the plan and changes nothing: which\n"
	  "       files are rewritten or set aside, which sequence number\n"
	  "       ranges and how many records of each namespace are lost, and\n"
	  "       which keys fall back to an older value.  With --yes, holds\n"
	  "       DIR's lock, carries the plan out and prints the same report:\n"
	  "       every damaged file is kept as NAME.broken, every valid\n"
	  "       committed record is kept, and DIR then opens strictly and\n"
	  "       verifies clean.  A directory that opens as it is (a torn\n"
	  "       tail, which any writing open cuts) needs nothing.  When DIR\n"
	  "       holds the mesh ledger, its hash chain is checked after the\n"
	  "       repair: a chain broken by the loss is reported (ledger:\n"
	  "       chain broken, at which position), never re-chained.  A crash\n"
	  "       during a repair leaves what a new run of repair finishes.\n"
	  "       Exit status: 0 nothing needed, or repaired (ledger intact);\n"
	  "       1 a plan printed, nothing changed; 3 the ledger chain is\n"
	  "       broken; 2, 4, 5 as below.\n"
	  "       --yes                  carry the plan out\n"
	  "       --json                 one JSON object instead of YAML\n"
	  "       The report: steps (each with action, file, new_file,\n"
	  "       segment, what, and by action: rewrite records_kept; aside;\n"
	  "       create; drop_snapshot; lost seq_first, seq_last (0: every\n"
	  "       one after seq_first), records, count_known, namespace;\n"
	  "       fallback namespace, namespace_id, key or key_hex, lost_seq,\n"
	  "       older_seq (0: the key is gone); cut offset), then needed,\n"
	  "       applied, files_rewritten, files_aside, records_kept,\n"
	  "       records_lost, ranges_lost, ranges_of_unknown_count,\n"
	  "       keys_fallback, keys_gone, keys_unlisted (lost keys past\n"
	  "       the first 200, not named), ranges_unlisted, and ledger (chain: ok, broken or\n"
	  "       unchecked; entries; broken_position, broken_segment,\n"
	  "       broken_offset, problem) when there is one.\n"
	  ,
	  "       logkeep repair /var/lib/mesh\n"
	  "              the plan; nothing changes\n"
	  "       logkeep repair --yes /var/lib/mesh\n"
	  "              carries it out\n"
	  "       logkeep repair --json DIR | jq '.steps[] | select(.action == \"lost\")'\n"
	  "              the sequence ranges the plan loses\n", NULL },
	{ "stats", cmd_stats, "stats [--json] [--memory-bytes BYTES] DIR",
	  "show keys and bytes per namespace and per segment",
	  "       Opens DIR read-only and prints: the keys and the index's\n"
	  "       memory (bytes per key); the disk, live and dead bytes; each\n"
	  "       namespace's keys and live bytes; each segment's size with\n"
	  "       its live (#) and dead (.) bytes drawn as a bar (dead bytes\n"
	  "       are what compaction reclaims); the compactions since the\n"
	  "       database was created; the snapshot the next open loads\n"
	  "       (serial, age, the log replayed after it); and the recovery\n"
	  "       report of this open: segments read, records replayed, bytes\n"
	  "       cut, and which snapshot was used or why none was.\n"
	  "       The compaction totals are kept in the snapshot file, so\n"
	  "       they are as of the newest snapshot: one follows each\n"
	  "       compaction when snapshots are automatic, and a compaction\n"
	  "       whose snapshot a power cut prevented is not counted.\n",
	  /* EXAMPLES */
	  "       logkeep stats /var/lib/mesh\n"
	  "              the text form, for a person\n"
	  "       logkeep stats --json /var/lib/mesh | jq '.namespaces[] |\n"
	  "              {name, live_bytes}'\n"
	  "              the live bytes of each namespace\n"
	  "       logkeep stats --json /var/lib/mesh |\n"
	  "              jq '.compaction_totals.compactions, .snapshot.age_ms'\n"
	  "              how often the node compacted, how old its snapshot is\n"
	  "       logkeep stats --json /var/lib/mesh | jq '.recovery |\n"
	  "              {records_replayed, bytes_cut, snapshot_note}'\n"
	  "              what the next start will replay, and why\n"
	  "       One line of output looks like (shortened):\n"
	  "       {\"live_keys\":301,\"disk_bytes\":26553,\"live_bytes\":9997,\n"
	  "       ...,\"namespaces\":[{\"id\":1,\"name\":\"default\",\"keys\":300,\n"
	  "       \"live_bytes\":9964}],...,\"snapshot\":{\"serial\":1,\n"
	  "       \"age_ms\":2,\"behind_bytes\":0},...,\"compaction_totals\":\n"
	  "       {\"compactions\":1,...},\"recovery\":{\"segments_read\":2,...}}\n",
	  /* the rest of the text */
	  "       --memory-bytes BYTES   reckon the room for keys under this\n"
	  "                              memory budget (the daemon's\n"
	  "                              lk_options.memory_bytes_max; 0, the\n"
	  "                              default: none)\n"
	  "       --json                 print one JSON object on one line\n"
	  "                              instead; its members:\n"
	  "         live_keys            keys in the index (expired ones until\n"
	  "                              compaction; the catalog's not)\n"
	  "         disk_bytes           bytes of the segment files\n"
	  "         live_bytes           bytes of the records the index points\n"
	  "                              at (the namespaces' and the catalog's)\n"
	  "         dead_bytes           bytes of overwritten, deleted and\n"
	  "                              expired records, commits and seals\n"
	  "         index_bytes          memory of the index\n"
	  "         index_bytes_per_key  index_bytes / live_keys, one decimal\n"
	  "         segment_count        segment files\n"
	  "         map_bytes            bytes of segment files read through\n"
	  "                              mappings (lk_options.map_bytes_max)\n"
	  "         map_segments         segments read through mappings\n"
	  "         pread_segments       segments read with pread: the newest,\n"
	  "                              and those past the cap\n"
	  "         memory_bytes         index_bytes + map_bytes: what a memory\n"
	  "                              budget charges\n"
	  "         memory_bytes_max     the budget (--memory-bytes); 0: none\n"
	  "         memory_keys_room     keys that can still be added before a\n"
	  "                              write adding keys is refused\n"
	  "         namespaces           an array, one object per named\n"
	  "                              namespace: id, name, keys (in the\n"
	  "                              index), live_bytes (of its records)\n"
	  "         segments             an array in log order, one object per\n"
	  "                              segment: seq, generation (0 unless\n"
	  "                              rewritten by compaction), sealed (a\n"
	  "                              boolean; false: the active one),\n"
	  "                              disk_bytes, live_bytes, dead_bytes\n"
	  "         snapshot             null when there is none, else: serial\n"
	  "                              (the number in its file name), age_ms\n"
	  "                              (since it was taken), behind_bytes\n"
	  "                              (log written after it)\n"
	  "         log_replayed_bytes   the log an open replays (behind_bytes,\n"
	  "                              or the whole log without a snapshot)\n"
	  "         compaction_totals    since the database was created:\n"
	  "                              compactions (runs of segments\n"
	  "                              rewritten), bytes_read, bytes_written,\n"
	  "                              segments_removed, records_dropped\n"
	  "         recovery             this open's recovery report:\n"
	  "                              segments_read, records_replayed,\n"
	  "                              records_discarded (of batches never\n"
	  "                              committed), bytes_cut (a torn tail,\n"
	  "                              ignored by a read-only open),\n"
	  "                              cut_segment_seq, cut_offset (where;\n"
	  "                              0 if none), zero_tail_bytes,\n"
	  "                              segments_removed,\n"
	  "                              compaction_leftovers, seq_last,\n"
	  "                              duration_us, replaced_unread and\n"
	  "                              replaced_read (keys the replay\n"
	  "                              repointed without, with a read),\n"
	  "                              snapshot_used (a\n"
	  "                              boolean), snapshot_note (which\n"
	  "                              snapshot, or why none), tail_note\n"
	  "                              (what was cut and why, or \"\"),\n"
	  "                              snapshot_damaged (a snapshot open\n"
	  "                              passed over for damage: its name\n"
	  "                              and why, or \"\")\n"
	  "       Sizes are in bytes, times in ms or us as named; counts and\n"
	  "       sizes are integers.\n" },
	{ "backup", cmd_backup, "backup DIR DEST",
	  "copy a data directory consistently",
	  "       Copies DIR into DEST (created if missing; it must be empty):\n"
	  "       every committed record, ending on a commit, synced.  Opens\n"
	  "       DIR read-only, so it works while another process writes:\n"
	  "       the copy holds what was committed when it began.  Restore by\n"
	  "       using DEST as the data directory.  When standard error is a\n"
	  "       terminal, shows progress there.\n",
	  "       logkeep backup /var/lib/mesh /mnt/usb/mesh-$(date +%F)\n"
	  "              a consistent copy while the daemon runs\n", NULL },
	{ "compact", cmd_compact, "compact DIR",
	  "reclaim the space of overwritten and deleted records",
	  "       Rewrites every sealed segment of DIR that holds dead bytes\n"
	  "       (overwritten, deleted and expired records) with its live\n"
	  "       records only, then removes the old files, and prints the\n"
	  "       segments and bytes before and after.  Takes DIR's lock: a\n"
	  "       daemon that has DIR open compacts in the background itself\n"
	  "       (lk_compact), and this command then exits with status 5.\n"
	  "       A power cut in the middle leaves the old state or the new\n"
	  "       one; the next open removes any leftover file.\n",
	  "       logkeep compact /var/lib/mesh\n"
	  "              reclaims dead bytes of a directory no daemon has open\n", NULL },
	{ "snapshot", cmd_snapshot, "snapshot DIR",
	  "write an index snapshot so the next open is fast",
	  "       Writes the index of DIR to a snapshot file, so that the next\n"
	  "       open loads it instead of replaying the whole log, and removes\n"
	  "       the older snapshot.  Does nothing if the newest snapshot is\n"
	  "       of the current state.  A daemon writes snapshots itself\n"
	  "       (every snapshot_every_bytes of log, after compaction, at\n"
	  "       close); takes DIR's lock like compact (status 5 if held).\n"
	  "       A power cut leaves the old snapshot or the new one.\n",
	  "       logkeep snapshot /var/lib/mesh\n"
	  "              so that the next open loads the index instead of replaying the log\n", NULL },
	{ "node", cmd_node, "node list [--started] [--json] DIR | node get "
	  "[--json] DIR ID",
	  "show the mesh nodes",
	  "       list prints every node of the mesh layer (only those started,\n"
	  "       with --started), get one node: id, interfaces, protocols,\n"
	  "       started, routes_discovered, created_at, updated_at.  YAML, or\n"
	  "       one line of JSON with --json.  Opens DIR read-only; a node\n"
	  "       that is not there is exit status 1.\n",
	  "       logkeep node list --started /var/lib/mesh\n"
	  "              the nodes that are up, as YAML\n"
	  "       logkeep node get --json /var/lib/mesh node-03 | jq .interfaces\n"
	  "              one node's interfaces\n", NULL },
	{ "policy", cmd_policy,
	  "policy put DIR ID FILE | policy get [--json] DIR ID | policy list "
	  "[--json] DIR | policy example [NAME]",
	  "store and show mesh policies",
	  "       put checks the YAML document FILE (\"-\": standard input): it\n"
	  "       must parse and hold a top-level `rules` sequence, whose items\n"
	  "       are counted.  A bad document is exit status 2 with\n"
	  "       FILE:LINE:COLUMN: problem, and DIR is not touched; a good one\n"
	  "       creates or replaces policy ID.  get prints a policy with its\n"
	  "       document, list all of them without.  example lists the\n"
	  "       example policies, or prints one.\n",
	  "       logkeep policy example\n"
	  "              the names of the example policies\n"
	  "       logkeep policy example allow-backbone | logkeep policy put /var/lib/mesh backbone -\n"
	  "              stores an example policy under the id backbone\n"
	  "       logkeep policy get /var/lib/mesh backbone\n"
	  "              prints it with its YAML document\n", NULL },
	{ "cache", cmd_cache,
	  "cache get DIR SOURCE DESTINATION K | cache clear-expired DIR",
	  "read the path cache, or clear its expired entries",
	  "       get prints the bundle cached for (SOURCE, DESTINATION, K), or\n"
	  "       exits with status 1 if there is none or it expired.\n"
	  "       clear-expired deletes the expired entries (takes DIR's lock)\n"
	  "       and prints how many went.\n",
	  "       logkeep cache get /var/lib/mesh node-01 node-07 3\n"
	  "              the 3 paths cached from node-01 to node-07\n"
	  "       logkeep cache clear-expired /var/lib/mesh\n"
	  "              deletes the expired entries, prints how many\n", NULL },
	{ "history", cmd_history, "history [--json] DIR ENTITY",
	  "print an entity's audit history",
	  "       Prints the ledger entries of ENTITY, oldest first: position,\n"
	  "       index, time, from and to status, actor, reasoning and the\n"
	  "       hashes.  YAML, or one line of JSON with --json.  Reads only\n"
	  "       that entity's entries.  An entity without history is exit\n"
	  "       status 1.\n",
	  "       logkeep history /var/lib/mesh node-03\n"
	  "              every status change of node-03, oldest first\n", NULL },
	{ "ledger", cmd_ledger, "ledger verify DIR",
	  "verify the audit ledger's hash chain",
	  "       Walks the whole ledger, oldest first, checking each entry's\n"
	  "       link to the one before and the head.  Prints the number of\n"
	  "       entries that hold, or the first broken link: the entry, its\n"
	  "       segment and offset, and what is wrong (exit status 3).\n"
	  "       Shows progress on a terminal.\n",
	  "       logkeep ledger verify /var/lib/mesh || echo \"chain broken\"\n"
	  "              the entries that hold, or where the chain breaks\n", NULL },
	{ "ship", cmd_ship, "ship --nats URL [--stream NAME] [--namespaces NS,...] "
	  "[--node ID] [--create-stream] [--exit-when-idle] DIR",
	  "ship records to a NATS JetStream stream, each exactly once",
	  "       Publishes every committed record of DIR's namespaces NS\n"
	  "       (default mesh.ledger,mesh.telemetry), in order, to stream\n"
	  "       NAME (default LOGKEEP) on subject PREFIX.DBID, as the JSON\n"
	  "       object dump --json prints plus node (--node, default the\n"
	  "       host name), db_id and raw_hex, with message id DBID-SEQ so\n"
	  "       that the stream drops a duplicate.  Waits for each ack (at\n"
	  "       most --acks N in flight, default 256), keeps the acked\n"
	  "       cursor in DIR, and resumes there; retries with back-off\n"
	  "       while the server is away.  --create-stream adds the stream\n"
	  "       (file storage, duplicate window --duplicates-ms, default\n"
	  "       120000) when missing.  Prints the cursor, the lag in\n"
	  "       records and seconds, and what was published, acked and\n"
	  "       retried, every --progress-ms.  Runs until SIGINT or SIGTERM\n"
	  "       (then waits for the acks and stores the cursor), or with\n"
	  "       --exit-when-idle until every record is acked.  A log that\n"
	  "       ends before the stored cursor (a restored older copy) is\n"
	  "       exit status 3.  Options: --subject-prefix P (default\n"
	  "       logkeep).  Needs a logkeep built with libnats.\n",
	  "       logkeep ship --nats nats://hub:4222 /var/lib/mesh\n"
	  "              follow the node's ledger and telemetry for ever\n", NULL },
	{ "fleet", cmd_fleet, "fleet verify [--json] --nats URL --stream NAME",
	  "verify every node's ledger chain from a stream",
	  "       Reads stream NAME once, in order, and checks what ship sent:\n"
	  "       each message's fields against its raw bytes (an edited\n"
	  "       message is named), each database's record numbers\n"
	  "       increasing (duplicates, out of order), and each node's\n"
	  "       ledger hash chain: positions without a gap, each prev_hash\n"
	  "       the hash of the entry before, the last entry the one the\n"
	  "       node's last ledger head names.  An entry that comes out\n"
	  "       of order but fills a gap, linked to the entry before, is\n"
	  "       not missing (late_entries), and a line says the gap\n"
	  "       is filled.  Problems are printed\n"
	  "       by node, position and sequence number (exit status 3);\n"
	  "       then a line per node, or with --json one object per node.\n"
	  "       Needs a logkeep built with libnats.\n",
	  "       logkeep fleet verify --nats nats://hub:4222 --stream LOGKEEP\n"
	  "              every node's chain, from the stream alone\n", NULL },
	{ "import-sqlite", cmd_import_sqlite, "import-sqlite [--json] DB DIR",
	  "import a predecessor's SQLite mesh_data.db",
	  "       Reads the SQLite database DB of the predecessors' storage\n"
	  "       layer, tables nodes, policies and path_cache, and writes each\n"
	  "       row into DIR (created when needed) through the mesh layer,\n"
	  "       then prints per table the rows imported (with those DIR\n"
	  "       already held as DB has them), skipped and failed.  DB is\n"
	  "       opened read-only and never changed.  A DB that is not SQLite,\n"
	  "       or lacks a table or a column the import reads, is refused\n"
	  "       (exit status 2) with what is missing, before DIR is touched:\n"
	  "         nodes(node_id, interfaces, protocols, started,\n"
	  "               routes_discovered)\n"
	  "         policies(policy_id, yaml_content)\n"
	  "         path_cache(source, destination, k, bundle_json, expires_at)\n"
	  "       interfaces and protocols are JSON lists of strings, expires_at\n"
	  "       seconds since the epoch.  rules_count comes from the document\n"
	  "       again; created_at and updated_at become the time of the\n"
	  "       import.  A row over a node or policy of DIR with the same id\n"
	  "       replaces it; nothing of DIR is deleted.\n"
	  "       Resumable, not atomic: each row is one atomic write, and a\n"
	  "       rerun writes the same rows again (a node or policy DIR already\n"
	  "       holds as DB has it is not written at all), so an import cut\n"
	  "       short by a crash, a full disk or ^C is finished by running it\n"
	  "       again, and two runs end in the same state as one.  DIR is\n"
	  "       synced once, at the end: a power cut before that keeps the\n"
	  "       rows of some prefix of the import.\n"
	  "       A path-cache row whose expires_at has passed is skipped and\n"
	  "       counted; the others keep their expiry (rounded up to the\n"
	  "       second).  A row that cannot be imported (a policy whose YAML\n"
	  "       does not parse, with its line and column; NULL where a value\n"
	  "       is needed, a wrong type, text that is not UTF-8 or holds a NUL\n"
	  "       byte, an id over 128 bytes, a value over 256 KiB, interfaces\n"
	  "       that are not a JSON list of strings) is reported on standard\n"
	  "       error as \"TABLE rowid N (ID): problem\"; the other rows are\n"
	  "       imported, and the exit status is 3.\n"
	  "       --json                 print one JSON object on one line\n"
	  "                              instead: rejected (each rejected row:\n"
	  "                              table, rowid, id, problem, and line\n"
	  "                              and column for a policy's YAML),\n"
	  "                              tables (nodes, policies, path_cache:\n"
	  "                              imported, unchanged, skipped,\n"
	  "                              failed) and complete (false when the\n"
	  "                              import stopped early)\n"
	  "       Without SQLite support (a build that did not find\n"
	  "       libsqlite3) the command exits with status 4.\n",
	  "       logkeep import-sqlite /var/lib/mesh/mesh_data.db /srv/lk\n"
	  "              Imports, and prints a line of counts per table.\n"
	  "       logkeep import-sqlite --json mesh_data.db /srv/lk | jq .rejected\n"
	  "              Lists the rows that were not imported, and why.\n"
	  "       logkeep node list /srv/lk; logkeep policy get /srv/lk ID\n"
	  "              Shows what was imported.\n", NULL },
	{ "demo", cmd_demo, "demo [--seconds N] [DIR]",
	  "run a simulated mesh node",
	  "       Runs a mesh node on DIR (default ./logkeep-demo) for N seconds\n"
	  "       (default 5): registers nodes, loads the example policies,\n"
	  "       updates routes, caches paths with a TTL and clears expired\n"
	  "       ones, records ledger transitions and telemetry, with a\n"
	  "       progress line; then prints the stats and verifies the\n"
	  "       ledger.  Run it again: it goes on where it stopped.\n"
	  "       --seconds N            how long (1 to 3600)\n",
	  "       logkeep demo\n"
	  "              a 5-second mesh node in ./logkeep-demo\n"
	  "       logkeep demo --seconds 60 /tmp/node && logkeep stats /tmp/node\n"
	  "              a longer run, then what it stored\n", NULL },
	{ "help", cmd_help, "help [COMMAND]", "print this manual",
	  "       Prints this manual, or the manual of COMMAND.\n",
	  "       logkeep help dump\n"
	  "              the manual of dump (as logkeep dump --help)\n"
	  "       logkeep help --troff >logkeep.1\n"
	  "              the whole manual as a man page\n", NULL },
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_manual(FILE *out)
{
	fputs("NAME\n"
	      "       logkeep - inspect and change a logkeep data directory\n"
	      "\n"
	      "SYNOPSIS\n"
	      "       logkeep [--help] [--version] COMMAND [options] DIR ...\n",
	      out);
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "       logkeep %s\n", commands[i].synopsis);
	fputs("\n"
	      "DESCRIPTION\n"
	      "       logkeep works on the data directory DIR of the logkeep\n"
	      "       storage engine.  Writing commands (put, del, load,\n"
	      "       import-sqlite) create DIR when needed and fail with\n"
	      "       status 5 while another process writes to it; read\n"
	      "       commands (get, scan, verify) never change anything on\n"
	      "       disk.  Options come before DIR; \"--\" ends them, for a\n"
	      "       KEY or VALUE that starts with '-'.\n"
	      "\n"
	      "COMMANDS\n",
	      out);
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		fprintf(out, "   %s\n%s%s", commands[i].synopsis,
			commands[i].text,
			commands[i].text_more ? commands[i].text_more : "");
		if (commands[i].examples)
			fprintf(out, "       Examples:\n%s", commands[i].examples);
		fputc('\n', out);
	}
	fputs("OPTIONS\n"
	      "       -h, --help     print this manual (after a command: the\n"
	      "                      command's manual) and exit\n"
	      "       --version      print the version and exit\n"
	      "\n",
	      out);
	fputs(exit_text, out);
}

static void print_command_manual(FILE *out, const struct command *c)
{
	fprintf(out,
		"NAME\n"
		"       logkeep %s - %s\n"
		"\n"
		"SYNOPSIS\n"
		"       logkeep %s\n"
		"\n"
		"DESCRIPTION AND OPTIONS\n"
		"%s%s"
		"       -h, --help             print this manual and exit\n"
		"\n",
		c->name, c->summary, c->synopsis, c->text,
		c->text_more ? c->text_more : "");
	if (c->examples)
		fprintf(out, "EXAMPLES\n%s\n", c->examples);
	fputs(exit_text, out);
}

/* The manual as a man page: the same text, each heading a section, the
 * rest preformatted, so that `man logkeep` reads as --help does.  Built
 * into logkeep.1 by meson (tools/meson.build). */
static int print_troff(FILE *out)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem)
		return CLI_ERROR;
	print_manual(mem);
	if (fclose(mem) != 0) {
		free(text);
		return CLI_ERROR;
	}
	fprintf(out, ".TH LOGKEEP 1 \"\" \"logkeep %s\" \"User Commands\"\n",
		LK_VERSION_STRING);
	fputs(".nh\n.ad l\n", out);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != ' ') { /* a heading */
			fprintf(out, ".fi\n.SH %s\n.nf\n", line);
			continue;
		}
		if (strncmp(line, "       ", 7) == 0)
			line += 7; /* man indents a section's body itself */
		if (line[0] == '.' || line[0] == '\'')
			fputs("\\&", out);
		for (const char *p = line; *p; p++) {
			if (*p == '\\')
				fputs("\\e", out);
			else if (*p == '-')
				fputs("\\-", out);
			else
				fputc(*p, out);
		}
		fputc('\n', out);
	}
	fputs(".fi\n", out);
	free(text);
	return CLI_OK;
}

static int cmd_help(const char *cmd, int argc, char **argv)
{
	const struct command *c;

	(void)cmd;
	if (argc == 2 && strcmp(argv[1], "--troff") == 0)
		return print_troff(stdout);
	if (argc > 2)
		return cli_usage_error(NULL, "help: expected at most one "
				       "COMMAND");
	if (argc < 2 || strcmp(argv[1], "help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		print_manual(stdout);
		return CLI_OK;
	}
	c = command_find(argv[1]);
	if (c == NULL)
		return cli_usage_error(NULL, "help: unknown command '%s'",
				       argv[1]);
	print_command_manual(stdout, c);
	return CLI_OK;
}

/* ---------------------------------------------------------------------- */
/* main                                                                   */
/* ---------------------------------------------------------------------- */

/* Flushes stdout and turns a failed write (a full disk, a closed pipe
 * with SIGPIPE ignored) into exit status 4: output that did not arrive
 * must not look like success. */
static int finish_stdout(const char *cmd, int rc)
{
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		int e = errno;

		cli_msg(cmd, "writing standard output: %s",
			e != 0 ? strerror(e) : "write error");
		if (rc == CLI_OK || rc == CLI_NO)
			rc = CLI_ERROR;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *c;
	int opt, rc;

	opterr = 0; /* our messages, not getopt's */
	while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			print_manual(stdout);
			return finish_stdout(NULL, CLI_OK);
		case 'V':
			printf("logkeep %s\n", LK_VERSION_STRING);
			return finish_stdout(NULL, CLI_OK);
		default:
			return cli_bad_option(NULL, opt, argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error(NULL, "no COMMAND given");
	c = command_find(argv[optind]);
	if (c == NULL)
		return cli_usage_error(NULL, "unknown command '%s'",
				       argv[optind]);
	argc -= optind;
	argv += optind;
	/* The command parses its own options from its own argv[0]; 0, not
	 * 1, makes glibc and musl reset getopt's state after the "+". */
	optind = 0;
	rc = c->run(c->name, argc, argv);
	if (rc == CLI_SHOW_HELP) {
		print_command_manual(stdout, c);
		rc = CLI_OK;
	}
	return finish_stdout(c->name, rc);
}

