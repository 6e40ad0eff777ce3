# Prediction: one job per (target, model). It declares one GPU so that a profile with
# `resources: gpu=N` runs N predictions at a time while the CPU cores run searches.
# Without parameter files (demo, or allow_untrained_params) it runs untrained parameters,
# and the model run marks every output as untrained.


rule predict:
    input:
        features=f"{OUT}/{{target}}/features.npz",
        params=model_params,
    output:
        result=f"{OUT}/{{target}}/result_{{model}}.npz",
        pdb=f"{OUT}/{{target}}/unrelaxed_{{model}}.pdb",
    log:
        f"{OUT}/{{target}}/logs/predict_{{model}}.log",
    priority: 10
    conda:
        "../envs/folding.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=6000,
    params:
        weights=weights_args,
        num_recycle=SETTINGS.num_recycle,
        sequence_hash=lambda wc: PLAN.target(wc.target).sequence_hash,
        identity=lambda wc, input: database_args(input.params),
        record=lambda wc: f"{OUT}/{wc.target}/provenance/predict_{wc.model}.json",
    shell:
        "folding workflow stage --stage predict_{wildcards.model} --log {log} "
        "--record {params.record} --sequence-hash {params.sequence_hash} "
        "{params.identity} --tool jax --tool haiku "
        "--setting num_recycle={params.num_recycle} --setting params={params.weights:q} -- "
        "folding model run {params.weights} --model-name {wildcards.model} "
        "--features {input.features} --output {output.result} "
        "--num-recycle {params.num_recycle} --pdb {output.pdb}"
