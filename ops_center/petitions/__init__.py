"""Citizens' petitions (phản ánh, kiến nghị): received, handled, rated; the petitions indicators of the national
service index (5.1, 5.2) read their rollup. Own home: see docs/scorecard.md for why not an incident category."""
