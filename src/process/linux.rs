//! What only Linux lets the harness see and control of a plugin's
//! processes: the parent-death signal, the child subreaper, and `/proc`
//! (the process table, environments, and each thread's state and the
//! system call it is blocked in).

use std::fmt::Write as _;

use super::{Activity, ProcInfo, MARKER_VAR};

/// In the plugin, between fork and exec: SIGKILL when the harness dies.
pub(super) fn die_with_parent() {
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
}

/// Orphaned descendants of the harness's plugins become its children, not
/// init's.
pub(super) fn become_subreaper() {
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
}

/// Every process on the machine, from `/proc`.
///
/// Read through one descriptor of `/proc` and one buffer: a scan runs
/// several times as every plugin ends, and the kernel's formatting of each
/// `stat` should be its only real cost.
pub(super) fn table() -> Vec<ProcInfo> {
    use rustix::fs::{openat, Dir, Mode, OFlags, CWD};
    let Ok(proc_dir) = openat(CWD, "/proc", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) else {
        return Vec::new();
    };
    let Ok(dir) = Dir::read_from(&proc_dir) else { return Vec::new() };
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut path = String::with_capacity(24);
    for e in dir.flatten() {
        let Some(pid) = std::str::from_utf8(e.file_name().to_bytes()).ok().and_then(|n| n.parse::<i32>().ok()) else { continue };
        path.clear();
        let _ = write!(path, "{pid}/stat");
        let Ok(fd) = openat(&proc_dir, path.as_str(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else { continue };
        let Ok(n) = rustix::io::read(&fd, &mut buf) else { continue };
        if let Some(p) = parse_stat(pid, &buf[..n]) {
            out.push(p);
        }
    }
    out
}

/// One process's `stat`: `pid (comm) S ppid pgrp ...`; comm may hold
/// spaces and parentheses.
fn parse_stat(pid: i32, stat: &[u8]) -> Option<ProcInfo> {
    let (open, close) = (stat.iter().position(|&b| b == b'(')?, stat.iter().rposition(|&b| b == b')')?);
    if close < open {
        return None;
    }
    let comm = String::from_utf8_lossy(&stat[open + 1..close]).into_owned();
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    // Fields from 3 (`state`) on: `ppid` is 4, `pgrp` 5, `flags` 9,
    // `starttime` 22.
    let f: Vec<&str> = rest.split_ascii_whitespace().take(20).collect();
    let num = |i: usize| f.get(i).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
    let state = f.first().copied().unwrap_or("");
    Some(ProcInfo {
        pid,
        ppid: num(1) as i32,
        pgid: num(2) as i32,
        zombie: state == "Z" || state == "X",
        kernel: num(6) & PF_KTHREAD != 0,
        comm,
        start: num(19),
    })
}

/// `flags` bit of a kernel thread, which has no environment.
const PF_KTHREAD: u64 = 0x0020_0000;

/// When `pid` started, in clock ticks since boot (`stat` field 22).
pub(super) fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &stat).map(|p| p.start)
}

/// Whether a process's environment carries `marker` (an exact value) or,
/// with `prefix`, any value starting with it.
pub(super) fn has_marker(pid: i32, marker: &str, prefix: bool) -> bool {
    let key = format!("{MARKER_VAR}={marker}");
    // During an execve the environment reads empty, or cut short, for a
    // moment (the new program's is being laid out): asked again, it is the
    // new program's, which still carries the marker. Callers skip kernel
    // threads, whose environment is always empty. A cut that still ends a
    // string is not seen here: `sweep` looks twice.
    for _ in 0..EMPTY_ENVIRON_TRIES {
        match std::fs::read(format!("/proc/{pid}/environ")) {
            Ok(env) => {
                if env.split(|&b| b == 0).any(|v| if prefix { v.starts_with(key.as_bytes()) } else { v == key.as_bytes() }) {
                    return true;
                }
                if env.last() == Some(&0) {
                    return false;
                }
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
            // Gone, or not the harness's to read.
            Err(_) => return false,
        }
    }
    false
}

/// How often an environment read empty or cut is read again (every
/// 0.5 ms): an exec takes well under the 10 ms this allows.
const EMPTY_ENVIRON_TRIES: usize = 20;

/// Whether `pid` is done with its input, from each thread's `stat` (its
/// state) and `syscall` (the call it is blocked in).
pub(super) fn activity(pid: u32) -> Activity {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Activity::Unseen };
    let threads = tasks.flatten().filter_map(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
        Some((stat, std::fs::read_to_string(t.path().join("syscall")).ok()))
    });
    classify(threads, NATIVE)
}

/// The system calls, by number, that mean "waiting for input": `read` on
/// descriptor 0 (the plugin's stdin), and the calls that wait on
/// descriptors. Numbers differ per architecture, and only the kernel's
/// numbering for the harness's own architecture is read: a plugin built
/// for another ABI (a 32-bit binary on a 64-bit kernel) is not recognised
/// as waiting, and is then judged busy until the deadline.
#[derive(Debug)]
pub(super) struct InputWaits {
    read: i64,
    waits: &'static [i64],
}

// Each architecture uses one table natively; the tests read both.
/// x86_64: poll, select, epoll_wait, epoll_pwait, ppoll, pselect6,
/// epoll_pwait2.
#[allow(dead_code)]
pub(super) const X86_64: InputWaits = InputWaits { read: 0, waits: &[7, 23, 232, 281, 271, 270, 441] };

/// The generic numbering (aarch64, riscv64, loongarch64), which has no
/// poll, select or epoll_wait: epoll_pwait, pselect6, ppoll, epoll_pwait2.
#[allow(dead_code)]
pub(super) const GENERIC: InputWaits = InputWaits { read: 63, waits: &[22, 72, 73, 441] };

#[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
const NATIVE: Option<&InputWaits> = Some(&X86_64);
#[cfg(any(target_arch = "aarch64", target_arch = "riscv64", target_arch = "loongarch64"))]
const NATIVE: Option<&InputWaits> = Some(&GENERIC);
#[cfg(not(any(
    all(target_arch = "x86_64", target_pointer_width = "64"),
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "loongarch64"
)))]
const NATIVE: Option<&InputWaits> = None;

/// Judges threads by their `stat` and `syscall` contents. A running or
/// disk-waiting thread is evidence of work whatever the architecture; that
/// one waits for input needs the numbering (`waits`), and without it, or
/// without any readable `syscall`, there is no evidence either way.
pub(super) fn classify(threads: impl Iterator<Item = (String, Option<String>)>, waits: Option<&InputWaits>) -> Activity {
    let mut waiting = None;
    for (stat, syscall) in threads {
        // The state follows the command name's closing parenthesis.
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
        if matches!(state, Some('R' | 'D')) {
            return Activity::Busy;
        }
        let (Some(table), Some(sc)) = (waits, syscall) else { continue };
        // `NR ARG0 ... SP PC` while blocked in a call; `running`, or `-1 SP
        // PC` outside one.
        let mut f = sc.split_whitespace();
        let (nr, arg0) = (f.next().and_then(|n| n.parse::<i64>().ok()), f.next());
        let input = (nr == Some(table.read) && arg0 == Some("0x0")) || nr.is_some_and(|n| table.waits.contains(&n));
        waiting = Some(waiting.unwrap_or(false) || input);
    }
    match waiting {
        Some(true) => Activity::Waiting,
        Some(false) => Activity::Busy,
        None => Activity::Unseen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(state: char, syscall: Option<&str>) -> (String, Option<String>) {
        (format!("4242 (python3 (x)) {state} 1 4242 4242 0 -1"), syscall.map(str::to_owned))
    }

    fn judge(threads: &[(char, Option<&str>)], table: Option<&InputWaits>) -> Activity {
        classify(threads.iter().map(|(s, c)| thread(*s, *c)), table)
    }

    #[test]
    fn stat_is_read_past_a_command_name_with_spaces_and_parentheses() {
        let stat = b"4242 (a) (b c) S 7 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1 2 3";
        let p = parse_stat(4242, stat).unwrap();
        assert_eq!((p.comm.as_str(), p.ppid, p.pgid, p.start, p.zombie, p.kernel), ("a) (b c", 7, 4242, 123456, false, false));
        let kthread = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 2 0 0";
        assert!(parse_stat(2, kthread).unwrap().kernel);
        assert!(parse_stat(1, b"1 (x Z 0").is_none(), "no closing parenthesis");
    }

    #[test]
    fn start_times_agree_and_a_child_starts_no_earlier() {
        let me = std::process::id() as i32;
        let mine = start_time(me).expect("our own stat");
        assert!(mine > 0);
        assert!(table().iter().any(|p| p.pid == me && p.start == mine), "table and start_time read the same field");
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let theirs = start_time(child.id() as i32);
        let _ = child.kill();
        let _ = child.wait();
        assert!(theirs.expect("the child's stat") >= mine);
    }

    #[test]
    fn a_thread_reading_stdin_is_waiting_on_x86_64_and_aarch64() {
        assert_eq!(judge(&[('S', Some("0 0x0 0x7ffd 0x10000 0x0 0x0 0x0 0x7ffc 0x7f12"))], Some(&X86_64)), Activity::Waiting);
        assert_eq!(judge(&[('S', Some("63 0x0 0xffff 0x10000 0x0 0x0 0x0 0xfffc 0xff12"))], Some(&GENERIC)), Activity::Waiting);
    }

    #[test]
    fn reading_another_descriptor_is_not_waiting_for_input() {
        assert_eq!(judge(&[('S', Some("0 0x3 0x7ffd 0x10000 0x0 0x0 0x0 0x7ffc 0x7f12"))], Some(&X86_64)), Activity::Busy);
        // 0 is aarch64's io_setup, not read.
        assert_eq!(judge(&[('S', Some("0 0x0 0x0 0x0 0x0 0x0 0x0 0xfffc 0xff12"))], Some(&GENERIC)), Activity::Busy);
    }

    #[test]
    fn poll_select_and_epoll_are_waiting_on_each_architecture() {
        for nr in [7, 23, 232, 281, 271, 270, 441] {
            assert_eq!(
                judge(&[('S', Some(&format!("{nr} 0x5 0x1 0x0 0x0 0x0 0x0 0x7ffc 0x7f12")))], Some(&X86_64)),
                Activity::Waiting,
                "{nr}"
            );
        }
        for nr in [22, 72, 73, 441] {
            assert_eq!(
                judge(&[('S', Some(&format!("{nr} 0x5 0x1 0x0 0x0 0x0 0x0 0xfffc 0xff12")))], Some(&GENERIC)),
                Activity::Waiting,
                "{nr}"
            );
        }
        // x86_64's poll (7) is aarch64's fsetxattr.
        assert_eq!(judge(&[('S', Some("7 0x5 0x1 0x0 0x0 0x0 0x0 0xfffc 0xff12"))], Some(&GENERIC)), Activity::Busy);
    }

    #[test]
    fn a_running_or_disk_waiting_thread_is_busy_even_without_a_table() {
        let stdin = Some("0 0x0 0x7ffd 0x10000 0x0 0x0 0x0 0x7ffc 0x7f12");
        assert_eq!(judge(&[('S', stdin), ('R', Some("running"))], Some(&X86_64)), Activity::Busy);
        assert_eq!(judge(&[('D', None)], None), Activity::Busy);
    }

    #[test]
    fn a_thread_blocked_elsewhere_is_busy() {
        // futex (202): a process on its way out joins its threads.
        assert_eq!(judge(&[('S', Some("202 0x7f00 0x80 0x0 0x0 0x0 0x0 0x7ffc 0x7f12"))], Some(&X86_64)), Activity::Busy);
    }

    #[test]
    fn no_table_or_no_readable_syscall_is_unseen_never_waiting() {
        let stdin = Some("0 0x0 0x7ffd 0x10000 0x0 0x0 0x0 0x7ffc 0x7f12");
        assert_eq!(judge(&[('S', stdin)], None), Activity::Unseen);
        assert_eq!(judge(&[('S', None)], Some(&X86_64)), Activity::Unseen);
        assert_eq!(judge(&[], Some(&X86_64)), Activity::Unseen);
    }

    /// The literal tables agree with the C library's numbers for the
    /// architecture the tests run on.
    #[test]
    fn the_native_table_matches_libc() {
        #[cfg(all(target_arch = "x86_64", target_pointer_width = "64"))]
        {
            let libc_waits = [
                libc::SYS_poll,
                libc::SYS_select,
                libc::SYS_epoll_wait,
                libc::SYS_epoll_pwait,
                libc::SYS_ppoll,
                libc::SYS_pselect6,
                libc::SYS_epoll_pwait2,
            ];
            assert_eq!(X86_64.read, libc::SYS_read);
            assert_eq!(X86_64.waits, &libc_waits[..]);
        }
        #[cfg(any(target_arch = "aarch64", target_arch = "riscv64", target_arch = "loongarch64"))]
        {
            assert_eq!(GENERIC.read, libc::SYS_read);
            assert_eq!(GENERIC.waits, &[libc::SYS_epoll_pwait, libc::SYS_pselect6, libc::SYS_ppoll, libc::SYS_epoll_pwait2][..]);
        }
        assert!(NATIVE.is_some(), "an architecture the tests run on has no table");
    }
}
