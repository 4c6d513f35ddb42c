//! Charts (SVG and PNG) drawn from saved results. Owned by the reports work.
