// The shapes the server sends, for the JSDoc types of the other modules. They mirror
// src/inspect/server/cluster-map.ts, src/deployment/deployment-view.ts, src/inspect/server/queue-stats.ts and src/inspect/protocol.ts.

/**
 * @typedef {{ id: string, state: string, liveness: 'alive' | 'suspected' | 'dead', boot: string | null,
 *   replicas: number, primaries: number, manager: boolean }} NodeView
 * @typedef {{ node: string, liveness: 'alive' | 'suspected' | 'dead', role: string, learner: boolean, inSync: boolean, epoch: number | null,
 *   logEnd: number | null, commitIndex: number | null, lag: number | null }} ReplicaView
 * @typedef {{ queue: string, partition: number, epoch: number, primary: string | null, replicas: string[],
 *   learners: string[], isr: string[], leaving: string[], commitIndex: number | null, logEnd: number | null,
 *   reports: ReplicaView[] }} PartitionView
 * @typedef {{ name: string, incarnation: number, attributes: Record<string, unknown>, createdAt: number,
 *   partitions: PartitionView[] }} QueueView
 * @typedef {{ cluster: string, model: 'primary' | 'hosts', manager: { holder: string, term: number } | null, nodes: NodeView[],
 *   queues: QueueView[] }} ClusterMapView
 * @typedef {'healthy' | 'degraded' | 'failing'} ClusterHealth
 * @typedef {{ name: string, model: 'primary' | 'hosts', health: ClusterHealth, reason: string, nodes: number, alive: number,
 *   queues: number, partitions: number, leaderless: number, underReplicated: number, committed: number, reporter: string,
 *   reportedAt: number, managerStatus: ClusterHealth | 'unreachable' | null, badForMs: number, reportAgeSeconds: number,
 *   activeParts: number }} ClusterEntry
 * @typedef {{ cluster: string, state: 'active' | 'draining', since: number }} QueuePart
 * @typedef {{ queue: string, state: 'single' | 'split' | 'draining', parts: QueuePart[] }} RouteEntry
 * @typedef {{ deployment: string | null, external: { holder: string, term: number, answered: boolean } | null,
 *   clusters: ClusterEntry[], routes: RouteEntry[] }} DeploymentView
 * @typedef {{ approximateNumberOfMessages: number, approximateNumberOfMessagesNotVisible: number,
 *   approximateNumberOfMessagesDelayed: number, approximateAgeOfOldestMessage: number }} QueueCounts
 * @typedef {{ sent: number, received: number, deleted: number }} MessageCounters
 * @typedef {{ queue: string, counts: QueueCounts | null, error: string | null, depthPerSecond: number | null,
 *   logEntriesPerSecond: number | null, logEnd: number, messages: MessageCounters, sampledAt: number }} QueueStats
 * @typedef {string | { [region: string]: StateValue }} StateValue
 * @typedef {{ kind: 'actor', actor: string, machine: string, parent?: string, status: 'started' | 'stopped' }
 *   | { kind: 'state', actor: string, machine: string, value: StateValue, context: Record<string, unknown> }
 *   | { kind: 'event', actor: string, type: string, sampled: number }} InspectEvent
 * @typedef {{ node: string, seq: number, at: number, dropped: number, events: InspectEvent[] }} InspectFrame
 * @typedef {{ actor: string, machine: string, parent?: string, value: StateValue,
 *   context: Record<string, unknown>, events: Array<{ type: string, at: number }> }} ActorSummary
 * @typedef {{ key: string, id: string, type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history',
 *   initial?: string, states: Record<string, StateNodeDefinition>, transitions: TransitionDefinition[],
 *   invoke: string[] }} StateNodeDefinition
 * @typedef {{ event: string, targets: string[], guard?: string, reenter?: boolean }} TransitionDefinition
 * @typedef {{ n: number, at?: number, endedAt: number, consumer?: string, ended: 'lease-expired' | 'released' | 'dead-lettered' }} MessageAttempt
 * @typedef {{ found: false, searched: number, truncated?: boolean }
 *   | { found: true, node: string, messageId: string, partition: number, offset?: number, state: 'ready' | 'inflight' | 'delayed',
 *   receiveCount: number, leaseOwner?: string, leaseUntil?: number, delayedUntil?: number, sentAt: number, hlc?: string,
 *   size: number, searched: number, attempts?: MessageAttempt[],
 *   deadLetter?: { sourceQueue: string, reason: string, receiveCount: number, deadLetteredAt: number, totalAttempts: number } }} MessageReply
 */

export {};
