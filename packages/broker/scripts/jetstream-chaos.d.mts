/** One node kill of {@link runChaos}. */
export interface ChaosKill {
  node: string;
  at: number;
  outcomesBefore: number;
  /** The stream leader once the killed node is back. */
  newLeader?: string;
  /** From the SIGKILL to outcomes flowing again (more than 5 since the kill). */
  progressMs: number;
  /** From the SIGKILL to the restarted node being a current replica again. */
  backMs: number;
  /** The longest pause between two outcomes after the kill. */
  recoverMs: number;
}

/** Figures of one chaos run. */
export interface ChaosFigures {
  tasks: number;
  workers: number;
  submitters: number;
  outcomes: number;
  uniqueOutcomes: number;
  failures: number;
  failureCodes: string[];
  duplicateOutcomesRefused: number;
  executions: number;
  redelivered: number;
  staleResults: number;
  processesDisconnected: number;
  processesReconnected: number;
  kills: ChaosKill[];
  totalMs: number;
}

/** Runs the three-node JetStream chaos scenario (see the script's header). */
export function runChaos(options?: {
  tasks?: number;
  workers?: number;
  submitters?: number;
  prefetch?: number;
  sleepMs?: number;
  ackWaitMs?: number;
  submitSeconds?: number;
  timeoutMs?: number;
  log?: (line: string) => void;
}): Promise<ChaosFigures>;
