"""A witness of leitai's logs (C2SP tlog-witness): someone other than the operator (the
county's discipline inspection office) who cosigns each checkpoint only if it is consistent
with the last one it cosigned of that log, so that a log the operator forks after a witness
saw it can no longer gather that witness's cosignature.

``cosignature``: the C2SP tlog-cosignature/v1 keys, signing and checking; ``state``: the last
checkpoint cosigned per log, kept in a file; ``request``: an ``add-checkpoint`` body, read;
``witness``: the witness's decision on it; ``server``: its HTTP endpoint; ``client``: the
relay's side, submitting its checkpoints and keeping the cosignatures.
"""
