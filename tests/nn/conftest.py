"""The scikit-learn compatibility checks that train the estimator run with ``-m slow``.

scikit-learn's ``parametrize_with_checks`` makes about sixty checks per
estimator; the ones listed here test the API's shape (parameters, cloning,
pickling, error messages, input validation) and took under a second each
(measured on our 2-core machine). The others fit and score several times
over, about 110 CPU seconds together: they carry the ``slow`` mark, which
``.ci/run`` still runs.
"""

import pytest

QUICK_CHECKS = {
    "check_array_api_input", "check_classifiers_one_label", "check_classifiers_one_label_sample_weights",
    "check_classifiers_regression_target", "check_complex_data", "check_decision_proba_consistency",
    "check_dict_unchanged", "check_do_not_raise_errors_in_init_or_set_params", "check_dont_overwrite_parameters",
    "check_estimator_cloneable", "check_estimator_repr", "check_estimator_sparse_array",
    "check_estimator_sparse_matrix", "check_estimator_sparse_tag", "check_estimator_tags_renamed",
    "check_estimators_empty_data_messages", "check_estimators_fit_returns_self",
    "check_estimators_partial_fit_n_features", "check_estimators_pickle", "check_estimators_unfitted",
    "check_f_contiguous_array_estimator", "check_fit1d", "check_fit2d_predict1d", "check_get_params_invariance",
    "check_methods_sample_order_invariance", "check_mixin_order", "check_n_features_in",
    "check_no_attributes_set_in_init", "check_non_transformer_estimators_n_iter",
    "check_parameters_default_constructible", "check_readonly_memmap_input",
    "check_regressors_no_decision_function", "check_requires_y_none", "check_set_params",
    "check_supervised_y_no_nan", "check_valid_tag_types",
}


def _check_name(item) -> str:
    """``check_x`` from an id such as ``test_sklearn_compatible[BNNClassifier(...)-check_x(option=1)]``."""
    return item.name.rsplit("-", 1)[-1].rstrip("]").split("(")[0]


@pytest.hookimpl(tryfirst=True)  # before pytest's -m selection reads the marks
def pytest_collection_modifyitems(items):
    for item in items:
        if item.originalname == "test_sklearn_compatible" and _check_name(item) not in QUICK_CHECKS:
            item.add_marker(pytest.mark.slow)
