/** How sequence taps [N, T, ...] become one vector per sample (pool-graph.ts); no imports, so the config schema can use it. */
export const POOLINGS = ['mean', 'first', 'flatten'] as const;
export type Pooling = (typeof POOLINGS)[number];
export type PoolingOption = Pooling | 'auto';
