//! Who a worker is: its id string and the information it registers with the scheduler.
//!
//! Luigi builds the id from `(salt, workers, host, username, pid[, sudo_user])` as
//! `Worker(salt=..., workers=..., host=..., ...)` and sends the same pairs, plus `first_task`,
//! in `add_worker`. The scheduler shows them in its worker list, and other workers see them in
//! `running_tasks`, so they follow Luigi's shape exactly.

use serde_json::Value;

/// A worker's id and `add_worker` information.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The worker id.
    pub id: String,
    /// `(key, value)` pairs in Luigi's order (without `first_task`, added at registration).
    pub info: Vec<(String, Value)>,
    /// This machine's host name.
    pub host: String,
}

/// The host name, as Python's `socket.gethostname()`.
pub fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname NUL-terminates on success
    // (and we stop at the buffer's end otherwise).
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    if ok {
        let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
        if let Ok(name) = std::str::from_utf8(&buffer[..end])
            && !name.is_empty()
        {
            return name.to_owned();
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// The user name, as Python's `getpass.getuser()` (environment first, then the password file).
pub fn username() -> Option<String> {
    for var in ["LOGNAME", "USER", "LNAME", "USERNAME"] {
        if let Ok(name) = std::env::var(var)
            && !name.is_empty()
        {
            return Some(name);
        }
    }
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy the name out
    // immediately and do not keep the pointer.
    unsafe {
        let entry = libc::getpwuid(libc::getuid());
        if entry.is_null() || (*entry).pw_name.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr((*entry).pw_name).to_str().ok().map(str::to_owned)
    }
}

impl Identity {
    /// A new identity for a worker running `processes` tasks at a time; `fixed_id` replaces the
    /// generated id (Luigi's `[worker] id`).
    pub fn new(processes: usize, fixed_id: Option<&str>) -> Identity {
        let host = hostname();
        let mut info = vec![
            ("salt".to_owned(), Value::String(format!("{:09}", fastrand::u64(0..10_000_000_000)))),
            ("workers".to_owned(), Value::from(processes)),
            ("host".to_owned(), Value::String(host.clone())),
        ];
        if let Some(user) = username() {
            info.push(("username".to_owned(), Value::String(user)));
        }
        info.push(("pid".to_owned(), Value::from(std::process::id())));
        if let Ok(sudo_user) = std::env::var("SUDO_USER")
            && !sudo_user.is_empty()
        {
            info.push(("sudo_user".to_owned(), Value::String(sudo_user)));
        }
        let id = match fixed_id {
            Some(id) => id.to_owned(),
            None => {
                let pairs: Vec<String> = info
                    .iter()
                    .map(|(key, value)| match value {
                        Value::String(text) => format!("{key}={text}"),
                        other => format!("{key}={other}"),
                    })
                    .collect();
                format!("Worker({})", pairs.join(", "))
            }
        };
        Identity { id, info, host }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_has_luigis_shape() {
        let identity = Identity::new(3, None);
        assert!(identity.id.starts_with("Worker(salt="), "{}", identity.id);
        assert!(identity.id.contains(", workers=3, host="));
        assert!(identity.id.contains(&format!("pid={})", std::process::id())) || identity.id.contains("sudo_user="));
        assert_eq!(identity.info[0].0, "salt");
        let salt = identity.info[0].1.as_str().unwrap_or_default();
        assert!(matches!(salt.len(), 9 | 10) && salt.bytes().all(|b| b.is_ascii_digit()), "{salt}");
        assert_eq!(Identity::new(1, Some("fixed")).id, "fixed");
        assert!(!hostname().is_empty());
    }
}
