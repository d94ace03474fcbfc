"""`kvmverify check` of several models ends with a summary: one line per model, as expected or not."""
from conftest import check_golden, run_cli


def test_summary_of_a_passing_library():
    code, out, err = run_cli("check", "--no-traces", "-q", "models/arm64_apf_rfc.kv", "models/arm64_apf_rfc_bugs")
    assert code == 0 and err == ""
    check_golden("summary_arm64_apf_rfc.txt", out[out.index("summary:"):])


def test_summary_names_what_is_not_as_expected():
    # the override breaks the base model (unexpected violations) and an empty file does not compile
    code, out, err = run_cli("check", "--no-traces", "-q", "--param", "READ_REASON_WITH_IRQS_ON=true",
                             "models/arm64_apf_rfc.kv", "models/arm64_apf_rfc_bugs/ready_as_exception.kv",
                             "tests/broken/empty.kv")
    assert code == 2                       # the most serious: a model that does not compile
    assert "KV" in err
    check_golden("summary_mixed.txt", out[out.index("summary:"):])


def test_one_model_has_no_summary():
    code, out, _ = run_cli("check", "--no-traces", "-q", "models/arm64_apf_rfc.kv")
    assert code == 0 and "summary:" not in out
