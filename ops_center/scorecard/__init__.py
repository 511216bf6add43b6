"""The national service index (Decision 766/QĐ-TTg): its versioned definition, the pure reference computation, the
rollup path, scoring, drill-down and exports. See docs/scorecard.md."""
