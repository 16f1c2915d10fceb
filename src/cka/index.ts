/** The math core: pure float64 statistics over Gram matrices, no I/O. */
export * from './gram.js';
export * from './hsic.js';
export * from './paired.js';
export * from './drift.js';
