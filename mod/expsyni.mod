COMMENT
ExpSynI: current-based synapse with an exponentially decaying current (lfpk_hpc).

An event of weight w (nA) makes the current jump to -w nA (inward, depolarising
for w > 0), after which it decays with time constant tau (ms):

    i(t) = -w * exp(-(t - t_event) / tau)     (nA)

This is the postsynaptic current of the current-based exponential synapses of
the Potjans & Diesmann (2014) model (iaf_psc_exp, tau_syn 0.5 ms); its charge per
event is -w * tau (pC for nA and ms).
ENDCOMMENT

NEURON {
    POINT_PROCESS ExpSynI
    RANGE tau, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
}

PARAMETER {
    tau = 0.5 (ms) <1e-9, 1e9>
}

ASSIGNED {
    i (nA)
}

STATE {
    A (nA)
}

INITIAL {
    A = 0
}

BREAKPOINT {
    SOLVE decay METHOD cnexp
    i = -A
}

DERIVATIVE decay {
    A' = -A / tau
}

NET_RECEIVE(weight (nA)) {
    A = A + weight
}
