/**
 * @socketkit/broker: tasks (at least once, exactly one outcome), RPC and
 * broadcasts between processes, with kiwipy's `Communicator` contract, over
 * socketkit (unix, tcp, nats), in memory or durable (LMDB).
 * @packageDocumentation
 */
export { startBroker, DEFAULT_BROKER_EVENT, type Broker, type BrokerOptions } from './broker.js';
export { connect, SocketCommunicator, type ConnectOptions } from './connect.js';
export {
  Communicator,
  type CommunicatorEvents,
  type TaskContext,
  type TaskSubscriber,
  type RpcSubscriber,
  type TaskSubscriberOptions,
  type TaskSendOptions,
  type RpcSendOptions,
  type BroadcastSendOptions,
  type Link,
  type LinkEvents,
} from './communicator.js';
export { JetStreamCommunicator, connectJetStream, type JetStreamConnectOptions } from './jetstream/connect.js';
export { TaskHeader, type JetStreamOptions } from './jetstream/options.js';
export {
  jetStreamTasks,
  jetStreamRequeue,
  jetStreamPurgeDead,
  jetStreamStats,
  jetStreamNamespaces,
  type JetStreamAdminOptions,
  type JetStreamConsumerFigures,
  type JetStreamStats,
  type JetStreamTaskInfo,
} from './jetstream/admin.js';
export { LocalCommunicator, LocalBroker, type LocalCommunicatorOptions } from './local.js';
export {
  BroadcastFilter,
  type BroadcastFilterOptions,
  type BroadcastInfo,
  type BroadcastSubscriber,
  type FilterValue,
} from './filter.js';
export {
  BrokerCore,
  type BrokerLimits,
  type BrokerStats,
  type CoreHost,
  type SubscriberLoad,
  type TaskInfo,
} from './core.js';
export {
  MemoryStore,
  LmdbStore,
  type StoreOptions,
  type StoreStats,
  type StoredTask,
  type TaskState,
  type TaskStore,
} from './store.js';
export { Kind, BROKER_PROTOCOL_VERSION, type BrokerMessage, type SubscriberType } from './wire.js';
export {
  BrokerError,
  BrokerErrorCode,
  RemoteException,
  DeliveryFailed,
  UnroutableError,
  RecipientLost,
  TaskRejected,
  DuplicateSubscriberIdentifier,
  CommunicatorClosed,
  DeliveryLimitExceeded,
  BrokerUnavailable,
  StaleDelivery,
  RpcTimeout,
  LimitExceeded,
  UnknownSubscriber,
  InvalidRequest,
  errorFromWire,
  type WireError,
  type BrokerErrorOptions,
} from './errors.js';
