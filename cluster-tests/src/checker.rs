//! Linearizability checker (placeholder module: being written).
