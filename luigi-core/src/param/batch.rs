//! Batch methods: how the values of a batched parameter are combined into one.
//!
//! When a task family is batchable, the scheduler hands a worker several pending tasks at
//! once and sends, for each batched parameter, the list of their values. The worker builds
//! one task from them, reducing each list with the parameter's batch method (Luigi's
//! `batch_method=max` or `",".join`). These are the common ones; any `fn(Vec<T>) -> T` works.
//! Callers guarantee `values` is not empty.

/// The largest value (Luigi's `batch_method=max`).
pub fn max<T: PartialOrd>(values: Vec<T>) -> T {
    let mut iter = values.into_iter();
    let first = iter.next().expect("batch methods get at least one value");
    iter.fold(first, |best, value| if value > best { value } else { best })
}

/// The smallest value (Luigi's `batch_method=min`).
pub fn min<T: PartialOrd>(values: Vec<T>) -> T {
    let mut iter = values.into_iter();
    let first = iter.next().expect("batch methods get at least one value");
    iter.fold(first, |best, value| if value < best { value } else { best })
}

/// The values joined with commas (Luigi's `batch_method=",".join`).
pub fn join(values: Vec<String>) -> String {
    values.join(",")
}

/// The first value.
pub fn first<T>(values: Vec<T>) -> T {
    values.into_iter().next().expect("batch methods get at least one value")
}

/// The last value.
pub fn last<T>(values: Vec<T>) -> T {
    values.into_iter().next_back().expect("batch methods get at least one value")
}
