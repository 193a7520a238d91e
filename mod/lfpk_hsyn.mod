COMMENT
lfpk_hsyn: the passive membrane and the current-based exponential synapses
(ExpSynI, mod/expsyni.mod) of a segment as one density mechanism (lfpk_hpc, hybrid
ground truth).

Every ExpSynI on a segment that shares one time constant tau adds its events to one
state A (nA) that decays as exp(-dt/tau) per step; so they can be one state per
segment instead of one point process each, and with the leak in the same mechanism
a segment costs NEURON one mechanism instead of two (pas and the synapses):

    i = g * (v - e) - A * scale   (mA/cm2; scale = 100 / area, area in um2, turns
                                    the synapses' nA into mA/cm2)
    A(t + dt) = A(t) * decay,     decay = exp(-dt / tau)  (GLOBAL, set for the run)

g (S/cm2) and e (mV) are the leak of NEURON's pas; the hybrid cells use this in
place of pas. Events are added to A by LfpkTrain kicks (mod/lfpk_train.mod: one
train per segment holding the times and weights of all its synapses' events), at the
time a NetCon event would add them to an ExpSynI's A; a segment without synapses has
A = 0 and is pas.
ENDCOMMENT

NEURON {
    SUFFIX lfpk_hsyn
    NONSPECIFIC_CURRENT i
    RANGE A, scale, g, e
    GLOBAL decay
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    g = 0.001 (S/cm2)
    e = -70 (mV)
    scale = 0 (1/um2)
    decay = 0 (1)
}

ASSIGNED {
    v (mV)
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
    CONDUCTANCE g
    i = g * (v - e) - A * scale
}

PROCEDURE fall() {
    A = A * decay
}
