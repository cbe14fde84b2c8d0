"""Where cairn serve's CPU goes, from a folded perf profile (inferno-collapse-perf output).

Each stack is charged to the deepest frame that names a component: a JSON parse inside the
decider counts as request parsing, a futex wait inside an action as thread handoff. The kernel's
switch-in (finish_task_switch) counts as thread handoff wherever it happens, since on this VM the
cpu-clock samples of a context switch land there.
Usage: python3 docs/perf/breakdown.py FILE.folded
"""
import collections, sys
RULES = [  # (category, substrings) checked per frame; the deepest matching frame wins
    ("HTTP (hyper, sockets, epoll)", ["hyper::", "tokio::net", "mio::", "TcpStream", "__GI___writev", "__libc_recv", "__libc_send", "epoll_wait", "tcp_", "net_rx_action"]),
    ("request handling (serve.rs)", ["cairn::serve::"]),
    # `serde_json::from_slice`, not `extend_from_slice` (a memory copy, charged wherever it runs).
    ("request parsing (JSON in)", ["serde_json::de::", "serde_json::from_slice", "from_str<"]),
    ("API action (shared/api)", ["cairn_api::"]),
    ("decider (interpreter, dataflow)", ["cairn_interpreter::", "cairn_dataflow::", "cairn_jsonpath::", "cairn_intrinsics::"]),
    ("serialisation (JSON out)", ["serde_json::ser::", "Serialize for serde_json", "to_vec<", "to_string<", "to_writer"]),
    ("SQLite", ["sqlite3", "rusqlite::", "cairn_store_sqlite::"]),
    ("fsync", ["fdatasync", "fsync", "ext4_sync_file", "file_write_and_wait"]),
    ("thread handoff (blocking pool, channels, futex)", ["tokio::runtime::blocking", "Condvar", "futex", "mpmc::", "mpsc::", "lock_contended", "finish_task_switch", "__schedule"]),
]
ALLOC = ["mi_", "_mi_", "mimalloc", "clear_page", "page_fault", "asm_exc_page_fault"]
def classify(frames):
    best = None
    for f in frames:
        for cat, keys in RULES:
            if any(k in f for k in keys):
                best = cat
                break
    return best or "other (runtime, kernel)"
def main(path: str) -> None:
    totals = collections.Counter(); allocs = collections.Counter(); n_all = 0
    for line in open(path):
        stack, n = line.rsplit(' ', 1); n = int(n); n_all += n
        frames = stack.split(';')
        cat = classify(frames)
        totals[cat] += n
        if any(any(a in f for a in ALLOC) for f in frames[-6:]): allocs[cat] += n
    for cat, n in totals.most_common():
        print(f"{100*n/n_all:5.1f}%  {cat}   (of which allocation/page faults {100*allocs[cat]/n_all:.1f}%)")
main(sys.argv[1])
