"""Analog matrix computing on RRAM arrays: MVM, LP-INV, bit-sliced HP-MVM, HP-INV refinement, BlockAMC and MIMO detection (Zuo et al., Nature Electronics 2025)."""
