COMMENT
lfpk_drive: a membrane current with one time course shared by every segment
and an amplitude per segment (lfpk_hpc).

    i = amp * s     (mA/cm2, outward positive)

``amp`` (mA/cm2) is a RANGE variable; ``s`` (dimensionless) is one GLOBAL value
for the whole cell, driven by Vector.play with the time step dt, so that the
value of s during the step that starts at t_k is the k-th element of the vector.

The kernel engine uses it in place of one Exp2SynI point process per segment:
all the linearised synapses of a pathway share their time course and differ
only in their weight, so amp = weight * 100 / area (nA -> mA/cm2 for a segment
of area µm2) and s is the Exp2SynI state difference B - A for a unit weight,
computed with the same update rule (NEURON's cnexp) the point process uses.
This costs one multiplication per segment and step instead of two exponentials
and needs no NetCon or point-process objects.
ENDCOMMENT

NEURON {
    SUFFIX lfpk_drive
    NONSPECIFIC_CURRENT i
    RANGE amp
    GLOBAL s
}

UNITS {
    (mA) = (milliamp)
}

PARAMETER {
    amp = 0 (mA/cm2)
    s = 0 (1)
}

ASSIGNED {
    i (mA/cm2)
}

BREAKPOINT {
    i = amp * s
}
