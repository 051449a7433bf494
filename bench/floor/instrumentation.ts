// Its own (empty) instrumentation hook: without one, Turbopack takes the repo root's.
export function register(): void {}
