COMMENT
lfpk_hsyn: the current-based exponential synapses (ExpSynI, mod/expsyni.mod) of a
segment as one density mechanism (lfpk_hpc, hybrid ground truth).

Every ExpSynI on a segment that shares one time constant tau adds its events to one
state A (nA) that decays as exp(-dt/tau) per step; so they can be one state per
segment instead of one point process each:

    i = -A * scale     (mA/cm2; scale = 100 / area, area in um2, turns nA into mA/cm2)
    A(t + dt) = A(t) * decay,   decay = exp(-dt / tau)  (GLOBAL, set for the run)

Events are added to A by LfpkTrain kicks (mod/lfpk_train.mod: one train per segment
holding the times and weights of all its synapses' events), at the time a NetCon
event would add them to an ExpSynI's A. A segment without synapses has A = 0. The
cost is a multiplication per segment and step, against a point process (and an
exponential) per synapse segment.
ENDCOMMENT

NEURON {
    SUFFIX lfpk_hsyn
    NONSPECIFIC_CURRENT i
    RANGE A, scale
    GLOBAL decay
}

UNITS {
    (mA) = (milliamp)
}

PARAMETER {
    scale = 0 (1/um2)
    decay = 0 (1)
}

ASSIGNED {
    i (mA/cm2)
}

STATE {
    A : nA
}

INITIAL {
    A = 0
}

BREAKPOINT {
    SOLVE fall
    i = -A * scale
}

PROCEDURE fall() {
    A = A * decay
}
