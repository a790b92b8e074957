/** Wharf's public entry point: the client, the node, and the types they speak. */
export { WharfClient, type ClientOptions, type SendOptions, type ReceiveOptions } from './client/client.ts';
export type { BatchingOptions } from './client/batcher.ts';
export { Consumer, type ConsumerOptions, type Handler } from './client/consumer.ts';
export { StreamConsumer, type StreamConsumerOptions, type StreamHandler } from './client/stream-consumer.ts';
export { startNode, type WharfNode } from './node/node.ts';
export type { NodeOptions, NodeConfig } from './node/config.ts';
export type { NatsAuth } from './security/nats-auth.ts';
export { ErrorCode, WharfError, isWharfError, type WireError } from './errors.ts';
export { LIMITS } from './protocol/limits.ts';
export { DEFAULT_ATTRIBUTES } from './protocol/attributes.ts';
export type * from './protocol/messages.ts';
