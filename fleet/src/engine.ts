// fleet/ room: the small interface the `relaykit` commands drive instead of the Pulumi Automation API
// itself. pulumi-engine.ts implements it over LocalWorkspace; the tests implement it in-process and
// assert the exact operations. Config keys here are bare ("tenantId"); the adapter adds the
// `relaykit:` namespace. Nothing here imports Pulumi.

/** One config value as it is stored on the stack; secrets are encrypted by the secrets provider. */
export interface ConfigEntry {
  readonly value: string;
  readonly secret: boolean;
}
export type StackConfig = Readonly<Record<string, ConfigEntry>>;

export interface StackRow {
  readonly name: string;
  /** ISO time of the last update, absent for a stack never updated. */
  readonly lastUpdate?: string;
  /** Result of the last update: succeeded, failed, in-progress. */
  readonly result?: string;
  readonly resourceCount?: number;
}

export interface OutputValue {
  readonly value: unknown;
  readonly secret: boolean;
}
export type StackOutputs = Readonly<Record<string, OutputValue>>;

/** Resource operations a preview would perform, by kind ("same", "update", "delete", ...). */
export type ChangeSummary = Readonly<Record<string, number>>;

export interface FleetEngine {
  listStacks(): Promise<StackRow[]>;
  hasStack(stack: string): Promise<boolean>;
  /** Fails when the stack exists. */
  createStack(stack: string): Promise<void>;
  /** Sets the given keys (others stay as they are). */
  setConfig(stack: string, config: StackConfig): Promise<void>;
  getConfig(stack: string): Promise<StackConfig>;
  /** `pulumi up`: each progress line goes to onOutput; resolves with the stack outputs. */
  up(stack: string, onOutput: (line: string) => void): Promise<StackOutputs>;
  outputs(stack: string): Promise<StackOutputs>;
  /** A refresh preview: what reading the cloud back would change (drift), changing nothing. */
  previewRefresh(stack: string): Promise<ChangeSummary>;
  destroy(stack: string, onOutput: (line: string) => void): Promise<void>;
  removeStack(stack: string): Promise<void>;
}
