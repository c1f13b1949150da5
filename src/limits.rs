//! The open-files limit: raised to the hard limit at start, and `MAX_CONNECTIONS` lowered
//! to what it can hold, so that clients are never served by exhausting file descriptors.

/// Descriptors kept for everything but client connections: the listener, the runtime,
/// sockets to Spotify, the token file.
pub(crate) const HEADROOM: usize = 64;

/// Raises the soft open-files limit to the hard limit (one info line), and returns how many
/// client connections fit in it: `max_connections`, or the limit less [`HEADROOM`] with one
/// warning naming `MAX_CONNECTIONS`.
pub fn fit_connections(max_connections: usize) -> usize {
    let Some(open_files) = raise_open_files_limit() else {
        return max_connections;
    };
    let fitting = connections_within(open_files, max_connections);
    if fitting < max_connections {
        tracing::warn!(
            open_files,
            max_connections = fitting,
            "MAX_CONNECTIONS lowered from {max_connections} to {fitting}: the open-files limit \
             ({open_files}) must also hold {HEADROOM} other descriptors; raise the hard limit \
             (ulimit -n, the container's nofile) to allow more"
        );
    }
    fitting
}

/// `MAX_EVENT_CLIENTS`, lowered (with one warning) to three quarters of `max_connections`
/// when it is not below it: event streams hold their connections, and must not take every
/// one of them.
pub fn fit_event_clients(max_event_clients: usize, max_connections: usize) -> usize {
    if max_event_clients < max_connections {
        return max_event_clients;
    }
    let fitting = (max_connections / 4 * 3).max(1);
    tracing::warn!(
        max_event_clients = fitting,
        "MAX_EVENT_CLIENTS lowered from {max_event_clients} to {fitting}: it must stay below MAX_CONNECTIONS ({max_connections}), which event streams count toward"
    );
    fitting
}

/// Client connections that fit in `open_files` descriptors besides the headroom (at least one).
pub(crate) fn connections_within(open_files: usize, max_connections: usize) -> usize {
    max_connections.min(open_files.saturating_sub(HEADROOM).max(1))
}

/// The soft open-files limit after raising it as far as allowed; `None` if it cannot be read.
#[cfg(unix)]
fn raise_open_files_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives on this stack.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        tracing::warn!(
            "cannot read the open-files limit: {}",
            std::io::Error::last_os_error()
        );
        return None;
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        } else {
            // macOS, for one, refuses an unlimited soft limit: keep the one we have.
            tracing::warn!(
                "cannot raise the open-files limit from {before} to {}: {}",
                limit.rlim_max,
                std::io::Error::last_os_error()
            );
        }
    }
    let open_files = if limit.rlim_cur == libc::RLIM_INFINITY {
        usize::MAX
    } else {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    };
    tracing::info!(
        open_files,
        raised_from = before,
        "open-files limit: {}",
        if open_files == usize::MAX {
            "unlimited".to_owned()
        } else {
            open_files.to_string()
        }
    );
    Some(open_files)
}

#[cfg(not(unix))]
fn raise_open_files_limit() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_with_room_keeps_max_connections() {
        assert_eq!(connections_within(1_048_576, 10_000), 10_000);
        assert_eq!(connections_within(10_064, 10_000), 10_000);
        assert_eq!(connections_within(usize::MAX, 10_000), 10_000);
    }

    #[test]
    fn a_small_limit_leaves_the_headroom() {
        assert_eq!(connections_within(1024, 10_000), 960);
        assert_eq!(connections_within(10_063, 10_000), 9_999);
    }

    #[test]
    fn a_tiny_limit_still_serves_one_connection() {
        assert_eq!(connections_within(64, 10_000), 1);
        assert_eq!(connections_within(0, 10_000), 1);
    }

    #[test]
    fn event_streams_stay_below_max_connections() {
        assert_eq!(fit_event_clients(1000, 10_000), 1000);
        assert_eq!(fit_event_clients(1000, 960), 720);
        assert_eq!(fit_event_clients(4, 4), 3);
        assert_eq!(fit_event_clients(1, 1), 1);
    }
}
