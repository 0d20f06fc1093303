//! [`SchedulerApi`], the worker–scheduler contract: one method per Luigi 3.8.1 RPC, and
//! [`Method`], their names.
//!
//! The list of methods is written once, in [`for_each_method!`], and expanded three times: into
//! the trait and [`Method`] here, into the decoder in `rpc::dispatch`, and into the encoder in
//! `rpc::client`. A method added to the table therefore cannot be forgotten by one side.
//!
//! The trait is synchronous and object-safe (`&dyn SchedulerApi`), because both its
//! implementations answer synchronously: the in-process scheduler engine is a state machine
//! behind a lock, and the HTTP client blocks on one request. Every method takes its request
//! struct by value, so the engine can keep the strings it receives without copying them, and
//! methods without arguments take [`NoArgs`] so that every method has the same shape.
//!
//! Python's `RPC_METHODS` also lists `update_metrics_task_started`. It takes a scheduler-internal
//! task object, so no client can call it meaningfully over HTTP (Python luigid answers `null`
//! because the default metrics collector ignores its argument). It is left out: our server
//! answers it like any unknown method, with 404.

use super::Error;
use super::wire::*;

/// Calls `$callback!` with the table of RPC methods: for each, its doc comment,
/// `fn rpc_name / VariantName (RequestType) -> ReplyType;`.
macro_rules! for_each_method {
    ($callback:ident) => {
        $callback! {
            /// Announces a task or reports its status (`add_task`).
            fn add_task / AddTask (AddTaskRequest) -> ();
            /// Registers which parameters of a family this worker can batch (`add_task_batcher`).
            fn add_task_batcher / AddTaskBatcher (AddTaskBatcherRequest) -> ();
            /// Merges information about a worker (`add_worker`).
            fn add_worker / AddWorker (AddWorkerRequest) -> ();
            /// Hands out the next task or batch to run (`get_work`). Never answers `null`.
            fn get_work / GetWork (GetWorkRequest) -> GetWorkReply;
            /// Counts the work left for a worker without handing any out (`count_pending`).
            fn count_pending / CountPending (CountPendingRequest) -> CountPendingReply;
            /// Keep-alive; returns and drains the worker's queued messages (`ping`).
            fn ping / Ping (PingRequest) -> PingReply;
            /// Records that a task could not be scheduled (`announce_scheduling_failure`).
            fn announce_scheduling_failure / AnnounceSchedulingFailure (AnnounceSchedulingFailureRequest) -> ();
            /// Sets a task's status message (`set_task_status_message`).
            fn set_task_status_message / SetTaskStatusMessage (SetTaskStatusMessageRequest) -> ();
            /// Reads a task's status message (`get_task_status_message`).
            fn get_task_status_message / GetTaskStatusMessage (TaskIdRequest) -> TaskStatusMessageReply;
            /// Sets a task's progress (`set_task_progress_percentage`).
            fn set_task_progress_percentage / SetTaskProgressPercentage (SetTaskProgressPercentageRequest) -> ();
            /// Reads a task's progress (`get_task_progress_percentage`).
            fn get_task_progress_percentage / GetTaskProgressPercentage (TaskIdRequest) -> TaskProgressReply;
            /// Gives back part of a running task's resources (`decrease_running_task_resources`).
            fn decrease_running_task_resources / DecreaseRunningTaskResources (DecreaseRunningTaskResourcesRequest) -> ();
            /// Reads the resources a running task holds (`get_running_task_resources`).
            fn get_running_task_resources / GetRunningTaskResources (TaskIdRequest) -> RunningTaskResourcesReply;
            /// Hands task statistics to the metrics collector (`report_task_statistics`).
            fn report_task_statistics / ReportTaskStatistics (ReportTaskStatisticsRequest) -> ();
            /// Stores a task's answer to a scheduler message (`add_scheduler_message_response`).
            fn add_scheduler_message_response / AddSchedulerMessageResponse (AddSchedulerMessageResponseRequest) -> ();
            /// Takes a task's answer to a scheduler message (`get_scheduler_message_response`).
            fn get_scheduler_message_response / GetSchedulerMessageResponse (GetSchedulerMessageResponseRequest) -> SchedulerMessageResponseReply;
            /// Queues a message for a running task (`send_scheduler_message`).
            fn send_scheduler_message / SendSchedulerMessage (SendSchedulerMessageRequest) -> SendSchedulerMessageReply;
            /// Asks a worker to change its number of processes (`set_worker_processes`).
            fn set_worker_processes / SetWorkerProcesses (SetWorkerProcessesRequest) -> ();
            /// Stops a worker from getting more work (`disable_worker`).
            fn disable_worker / DisableWorker (WorkerRequest) -> ();
            /// The whole task graph, after pruning (`graph`).
            fn graph / Graph (NoArgs) -> GraphReply;
            /// The dependencies of a task, breadth first (`dep_graph`).
            fn dep_graph / DepGraph (DepGraphRequest) -> GraphReply;
            /// The dependents of a task, breadth first (`inverse_dep_graph`).
            fn inverse_dep_graph / InverseDepGraph (DepGraphRequest) -> GraphReply;
            /// Tasks by status, upstream status and search terms (`task_list`).
            fn task_list / TaskList (TaskListRequest) -> TaskListReply;
            /// Tasks whose id contains a string, by status (`task_search`).
            fn task_search / TaskSearch (TaskSearchRequest) -> TaskSearchReply;
            /// The active workers (`worker_list`).
            fn worker_list / WorkerList (WorkerListRequest) -> Vec<WorkerEntry>;
            /// The configured resources and their use (`resource_list`).
            fn resource_list / ResourceList (NoArgs) -> Vec<ResourceEntry>;
            /// A task's failure explanation (`fetch_error`).
            fn fetch_error / FetchError (TaskIdRequest) -> FetchErrorReply;
            /// Re-enables a task the scheduler disabled; it becomes FAILED (`re_enable_task`).
            fn re_enable_task / ReEnableTask (TaskIdRequest) -> ReEnableTaskReply;
            /// Puts a FAILED task back to PENDING (`forgive_failures`).
            fn forgive_failures / ForgiveFailures (OptionalTaskIdRequest) -> TaskStatusReply;
            /// Marks a RUNNING, FAILED or DISABLED task DONE (`mark_as_done`).
            fn mark_as_done / MarkAsDone (OptionalTaskIdRequest) -> TaskStatusReply;
            /// Drops dead workers, fails their tasks, retries and removes tasks (`prune`).
            fn prune / Prune (NoArgs) -> ();
            /// Whether task history is recorded (`has_task_history`).
            fn has_task_history / HasTaskHistory (NoArgs) -> bool;
            /// Whether pausing is allowed (`is_pause_enabled`).
            fn is_pause_enabled / IsPauseEnabled (NoArgs) -> PauseEnabledReply;
            /// Whether the scheduler is paused (`is_paused`).
            fn is_paused / IsPaused (NoArgs) -> PausedReply;
            /// Stops handing out work, if pausing is enabled (`pause`).
            fn pause / Pause (NoArgs) -> ();
            /// Resumes handing out work (`unpause`).
            fn unpause / Unpause (NoArgs) -> ();
            /// Sets the capacity of several resources (`update_resources`).
            fn update_resources / UpdateResources (UpdateResourcesRequest) -> ();
            /// Sets the capacity of one resource; `false` for an invalid amount (`update_resource`).
            fn update_resource / UpdateResource (UpdateResourceRequest) -> bool;
        }
    };
}
pub(crate) use for_each_method;

macro_rules! define_api {
    ($( $(#[$attr:meta])* fn $name:ident / $variant:ident ($request:ty) -> $reply:ty; )*) => {
        /// The scheduler's RPC interface: one method per Luigi 3.8.1 RPC, named exactly like it.
        ///
        /// Implemented by the in-process scheduler engine and by [`RpcClient`](super::RpcClient)
        /// (the HTTP client plugs in a [`Transport`](super::Transport)), so a worker runs the
        /// same against either. Requests and replies are the wire types of [`super::wire`].
        pub trait SchedulerApi: Send + Sync {
            $(
                $(#[$attr])*
                fn $name(&self, request: $request) -> Result<$reply, Error>;
            )*
        }

        /// The name of an RPC method, as it appears in `/api/<name>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Method {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $variant,
            )*
        }

        impl Method {
            /// Every method, in the order of Luigi's reference table.
            pub const ALL: &'static [Method] = &[$(Method::$variant),*];

            /// The wire name (`add_task`, `get_work`...).
            pub fn name(self) -> &'static str {
                match self {
                    $(Method::$variant => stringify!($name),)*
                }
            }

            /// The method with this wire name, if there is one.
            pub fn from_name(name: &str) -> Option<Method> {
                match name {
                    $(stringify!($name) => Some(Method::$variant),)*
                    _ => None,
                }
            }
        }

        /// Forwards through references, so `&S` works where a `SchedulerApi` is expected.
        impl<S: SchedulerApi + ?Sized> SchedulerApi for &S {
            $(
                fn $name(&self, request: $request) -> Result<$reply, Error> {
                    (**self).$name(request)
                }
            )*
        }

        /// Forwards through boxes, so `Box<dyn SchedulerApi>` is a `SchedulerApi`.
        impl<S: SchedulerApi + ?Sized> SchedulerApi for Box<S> {
            $(
                fn $name(&self, request: $request) -> Result<$reply, Error> {
                    (**self).$name(request)
                }
            )*
        }

        /// Forwards through `Arc`, so one scheduler can be shared by many callers.
        impl<S: SchedulerApi + ?Sized> SchedulerApi for std::sync::Arc<S> {
            $(
                fn $name(&self, request: $request) -> Result<$reply, Error> {
                    (**self).$name(request)
                }
            )*
        }
    };
}

for_each_method!(define_api);

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_luigi() {
        assert_eq!(Method::ALL.len(), 38);
        for method in Method::ALL {
            assert_eq!(Method::from_name(method.name()), Some(*method));
        }
        assert_eq!(Method::from_name("update_metrics_task_started"), None);
        assert_eq!(Method::from_name("Add_Task"), None);
        assert_eq!(Method::from_name(""), None);
        assert_eq!(Method::GetWork.to_string(), "get_work");
    }
}
