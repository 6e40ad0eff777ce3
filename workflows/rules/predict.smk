# Prediction: one job per (target, model) -> result_<model>.npz, unrelaxed_<model>.pdb;
# for a complex one job per (target, multimer model, seed K): model_N_multimer_v3_pred_K.
# It declares one GPU so that a profile with `resources: gpu=N` runs N predictions at a
# time while the CPU cores run searches. Without parameter files (demo, or
# allow_untrained_params) it runs untrained parameters, and every output says so.


rule predict:
    input:
        features=features_record,
        params=model_params,
    output:
        f"{OUT}/{{target}}/provenance/predict_{{model}}.json",
    log:
        f"{OUT}/{{target}}/logs/predict_{{model}}.log",
    benchmark:
        f"{OUT}/{{target}}/logs/predict_{{model}}.benchmark.tsv"
    priority: 10
    conda:
        "../envs/folding.yaml"
    threads: 2
    resources:
        **GPU_JOB,
        **PREDICT_SIZE,
        gpu=1,
    params:
        weights=weights_args,
        num_recycle=recycle_setting,
        recycles=recycle_args,
        dtype=SETTINGS.model_dtype,
        attention=SETTINGS.attention,
        sequence_hash=lambda wc: PLAN.target(wc.target).sequence_hash,
        identity=lambda wc, input: database_args(input.params),
        features=lambda wc: f"{OUT}/{wc.target}/features.npz",
        result=lambda wc: f"{OUT}/{wc.target}/result_{wc.model}.npz",
        pdb=lambda wc: f"{OUT}/{wc.target}/unrelaxed_{wc.model}.pdb",
    shell:
        "folding workflow stage --stage predict_{wildcards.model} --log {log} "
        "--record {output} --sequence-hash {params.sequence_hash} "
        "{params.identity} --tool jax --tool haiku "
        "--setting num_recycle={params.num_recycle} --setting params={params.weights:q} "
        "--setting dtype={params.dtype} --setting attention={params.attention} -- "
        "folding model run {params.weights} --model-name {wildcards.model} "
        "--features {params.features} --output {params.result} "
        "{params.recycles} --dtype {params.dtype} --attention {params.attention} "
        "--pdb {params.pdb}"
