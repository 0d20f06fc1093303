//! The keep-alive thread: pings the scheduler every `ping_interval` so it knows the worker is
//! alive, and acts on the messages the scheduler queues for the worker (Luigi's
//! `KeepAliveThread`): `set_worker_processes` changes how many tasks run at once, and
//! `dispatch_scheduler_message` hands a message to a running task that accepts messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use luigi_core::TaskId;
use luigi_core::rpc::SchedulerApi;
use luigi_core::rpc::wire::{
    AddSchedulerMessageResponseRequest, AddWorkerRequest, PingRequest, RpcMessage, WorkerInfo,
};
use luigi_core::task::SchedulerMessage;

/// The running keep-alive thread; [`KeepAlive::stop`] ends it.
pub(crate) struct KeepAlive {
    stop: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl KeepAlive {
    pub(crate) fn start(
        scheduler: Arc<dyn SchedulerApi>,
        worker_id: Arc<str>,
        interval: Duration,
        processes: Arc<AtomicUsize>,
        messages: Arc<Mutex<HashMap<TaskId, Sender<SchedulerMessage>>>>,
    ) -> KeepAlive {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("luigi-keepalive".into())
            .spawn(move || {
                loop {
                    match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                            tracing::info!(
                                target: "luigi-interface",
                                "Worker {worker_id} was stopped. Shutting down Keep-Alive thread"
                            );
                            return;
                        }
                    }
                    match scheduler.ping(PingRequest { worker: worker_id.to_string() }) {
                        Ok(reply) => {
                            for message in reply.rpc_messages {
                                dispatch(&scheduler, &worker_id, &processes, &messages, message);
                            }
                        }
                        Err(err) => {
                            tracing::warn!(target: "luigi-interface", "Failed pinging scheduler: {err}");
                        }
                    }
                }
            })
            .ok();
        KeepAlive { stop, thread }
    }

    pub(crate) fn stop(mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn dispatch(
    scheduler: &Arc<dyn SchedulerApi>,
    worker_id: &Arc<str>,
    processes: &AtomicUsize,
    messages: &Mutex<HashMap<TaskId, Sender<SchedulerMessage>>>,
    message: RpcMessage,
) {
    match message {
        RpcMessage::SetWorkerProcesses { n } => {
            let n = usize::try_from(n.max(1)).unwrap_or(1);
            tracing::info!(target: "luigi-interface", "Worker processes set to {n} by the scheduler");
            processes.store(n, Ordering::SeqCst);
            let mut info = luigi_core::rpc::wire::InfoMap::new();
            info.insert("workers".to_owned(), serde_json::Value::from(n));
            if let Err(err) =
                scheduler.add_worker(AddWorkerRequest { worker: worker_id.to_string(), info: WorkerInfo::Object(info) })
            {
                tracing::warn!(target: "luigi-interface", "could not report the new number of processes: {err}");
            }
        }
        RpcMessage::DispatchSchedulerMessage { task_id, message_id, content } => {
            let target = messages.lock().unwrap_or_else(|e| e.into_inner()).get(&task_id).cloned();
            let Some(target) = target else {
                tracing::warn!(target: "luigi-interface", "Received a message for task {task_id}, which is not running here or does not accept messages");
                return;
            };
            let responder_scheduler = Arc::clone(scheduler);
            let responder_task = task_id.clone();
            let responder_id = message_id.clone();
            let responder: luigi_core::task::Responder = Arc::new(move |response: &str| {
                responder_scheduler.add_scheduler_message_response(AddSchedulerMessageResponseRequest {
                    task_id: responder_task.clone(),
                    message_id: responder_id.clone(),
                    response: serde_json::Value::String(response.to_owned()),
                })?;
                Ok(())
            });
            let _ = target.send(SchedulerMessage::new(content, message_id, responder));
        }
        RpcMessage::Other { name, .. } => {
            tracing::warn!(target: "luigi-interface", "Unknown message from the scheduler: {name}");
        }
    }
}
