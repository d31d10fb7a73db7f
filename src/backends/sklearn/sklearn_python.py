"""The Python half of inferd's scikit-learn runtime (backends/sklearn/sklearn_backend.h): loads an estimator,
describes it, and compiles the ones it can into the JSON that sklearn_native.h executes without Python.

inferd compiles this file into its binary (module `_inferd_sklearn` of the embedded interpreter);
tests/backends/sklearn_python_test.py runs it with python3.
"""
import json as _json
import threading as _threading
import numpy as _np

# Loads run on several threads (the model server's slow-work pool). Unpickling imports scikit-learn's modules,
# and two threads importing one package at once can get it half initialized ("ImportError: cannot import
# name 'clone' from partially initialized module 'sklearn.base'"): loads take turns, and the first one also
# imports every module the functions below use, so later imports on any thread find them complete.
_load_lock = _threading.Lock()


def load(path):
    with _load_lock:
        from sklearn import ensemble, impute, linear_model, pipeline, preprocessing, svm, tree  # noqa: F401
        if path.endswith('.joblib'):
            import joblib
            return joblib.load(path)
        import pickle
        with open(path, 'rb') as f:
            return pickle.load(f)


def describe(model):
    if not callable(getattr(model, 'predict', None)):
        raise TypeError('%s has no predict() method' % type(model).__name__)
    n = getattr(model, 'n_features_in_', None)
    classes = getattr(model, 'classes_', None)
    one_dim = classes is not None and _np.ndim(classes) == 1
    return {
        'n_features': int(n) if n is not None else -1,
        'has_proba': hasattr(model, 'predict_proba'),
        'n_classes': int(len(classes)) if one_dim else -1,
        'label_kind': _label_kind(classes) if one_dim else '',
        'type': _describe_type(model),
    }


def _label_kind(classes):
    dt = _np.asarray(classes).dtype
    return dt.kind + str(dt.itemsize)


def _describe_type(model):
    from sklearn.pipeline import Pipeline
    if isinstance(model, Pipeline):
        return 'Pipeline(%s)' % ', '.join(type(s).__name__ for _, s in model.steps)
    return type(model).__name__


# ---- compilation into the native form (sklearn_native.h documents the JSON) ----------------------

class Unsupported(Exception):
    pass


def _f(a):
    return [float(v) for v in _np.asarray(a, dtype=_np.float64).ravel()]


def _step(step):
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
    t = type(step)
    if t is StandardScaler:
        n = int(step.n_features_in_)
        mean = step.mean_ if step.with_mean and step.mean_ is not None else _np.zeros(n)
        scale = step.scale_ if step.with_std and step.scale_ is not None else _np.ones(n)
        return {'op': 'standard', 'mean': _f(mean), 'scale': _f(scale)}
    if t is MinMaxScaler:
        d = {'op': 'minmax', 'scale': _f(step.scale_), 'min': _f(step.min_)}
        if getattr(step, 'clip', False):
            d['clip'] = [float(step.feature_range[0]), float(step.feature_range[1])]
        return d
    if t is SimpleImputer:
        mv = step.missing_values
        if not (isinstance(mv, float) and _np.isnan(mv)):
            raise Unsupported('SimpleImputer with missing_values=%r (only NaN is compiled)' % (mv,))
        if step.add_indicator:
            raise Unsupported('SimpleImputer with add_indicator=True')
        stats = _np.asarray(step.statistics_, dtype=_np.float64)
        if not _np.all(_np.isfinite(stats)):
            raise Unsupported('SimpleImputer drops all-missing columns')
        return {'op': 'impute', 'statistics': _f(stats)}
    if t is OneHotEncoder:
        sparse = getattr(step, 'sparse_output', getattr(step, 'sparse', True))
        if sparse:
            raise Unsupported('OneHotEncoder with sparse output')
        if step.drop is not None:
            raise Unsupported('OneHotEncoder with drop=%r' % (step.drop,))
        if step.handle_unknown not in ('ignore', 'error'):
            raise Unsupported('OneHotEncoder with handle_unknown=%r' % (step.handle_unknown,))
        if getattr(step, '_infrequent_enabled', False):
            raise Unsupported('OneHotEncoder with infrequent categories')
        cats = []
        for c in step.categories_:
            if c.dtype.kind not in 'biuf' or not _np.all(_np.isfinite(c.astype(_np.float64))):
                raise Unsupported('OneHotEncoder with non-numeric categories')
            cats.append(_f(c))
        return {'op': 'onehot', 'categories': cats, 'ignore_unknown': step.handle_unknown == 'ignore'}
    raise Unsupported('pipeline step %s' % t.__name__)


def _tree_nodes(tree):
    t = tree.tree_
    if t.n_outputs != 1:
        raise Unsupported('multi-output trees')
    return t


def _tree(t, group, values, hgb=None):
    if hgb is not None:
        nodes = hgb
        leaf = nodes['is_leaf'].astype(bool)
        return {'group': group,
                'left': [(-1 if leaf[i] else int(v)) for i, v in enumerate(nodes['left'])],
                'right': [(-1 if leaf[i] else int(v)) for i, v in enumerate(nodes['right'])],
                'feature': [int(v) for v in nodes['feature_idx']],
                'threshold': _f(nodes['num_threshold']),
                'missing_left': [bool(v) for v in nodes['missing_go_to_left']],
                'cover': _f(nodes['count']),
                'value': _f(values)}
    return {'group': group,
            'left': [int(v) for v in t.children_left],
            'right': [int(v) for v in t.children_right],
            'feature': [int(v) for v in t.feature],
            'threshold': _f(t.threshold),
            'cover': _f(t.weighted_n_node_samples),
            'value': _f(values)}


def _classes(est):
    c = _np.asarray(est.classes_)
    if c.ndim != 1:
        raise Unsupported('multi-output classifier')
    if c.dtype.kind in 'biuf':
        return [float(v) for v in c]
    return [str(v) for v in c]


def _head(est):
    from sklearn import ensemble, linear_model, svm, tree
    t = type(est)
    linear_regressors = (linear_model.LinearRegression, linear_model.Ridge, linear_model.Lasso,
                         linear_model.ElasticNet, svm.LinearSVR)
    if t in linear_regressors:
        coef = _np.asarray(est.coef_, dtype=_np.float64)
        if coef.ndim != 1:
            raise Unsupported('multi-target %s' % t.__name__)
        return {'kind': 'linear', 'coef': [_f(coef)], 'intercept': _f(_np.atleast_1d(est.intercept_)),
                'task': 'regression', 'inverse_link': 'identity'}
    if t in (linear_model.LogisticRegression, svm.LinearSVC):
        coef = _np.atleast_2d(_np.asarray(est.coef_, dtype=_np.float64))
        d = {'kind': 'linear', 'coef': [_f(r) for r in coef], 'intercept': _f(_np.atleast_1d(est.intercept_)),
             'task': 'classification', 'classes': _classes(est), 'label_from': 'raw'}
        if t is svm.LinearSVC:
            d['proba'] = 'none'
        else:
            ovr = est.multi_class in ('ovr', 'warn') or (
                est.multi_class == 'auto' and (est.classes_.size <= 2 or est.solver == 'liblinear'))
            if coef.shape[0] == 1:
                d['proba'] = 'logistic_binary' if ovr else 'softmax_binary'
            else:
                d['proba'] = 'ovr' if ovr else 'softmax'
        return d
    forests_c = (tree.DecisionTreeClassifier, tree.ExtraTreeClassifier, ensemble.RandomForestClassifier,
                 ensemble.ExtraTreesClassifier)
    forests_r = (tree.DecisionTreeRegressor, tree.ExtraTreeRegressor, ensemble.RandomForestRegressor,
                 ensemble.ExtraTreesRegressor)
    if t in forests_c:
        trees = est.estimators_ if hasattr(est, 'estimators_') else [est]
        n_classes = len(est.classes_)
        out = []
        for tr in trees:
            tt = _tree_nodes(tr)
            v = _np.asarray(tt.value[:, 0, :n_classes], dtype=_np.float64)
            norm = v.sum(axis=1)
            norm[norm == 0.0] = 1.0
            v = v / norm[:, None]
            for k in range(n_classes):
                out.append(_tree(tt, k, v[:, k]))
        return {'kind': 'trees', 'trees': out, 'aggregation': 'average', 'base': [0.0] * n_classes,
                'input': 'float32', 'task': 'classification', 'classes': _classes(est),
                'proba': 'identity', 'label_from': 'proba'}
    if t in forests_r:
        trees = est.estimators_ if hasattr(est, 'estimators_') else [est]
        out = [_tree(_tree_nodes(tr), 0, tr.tree_.value[:, 0, 0]) for tr in trees]
        return {'kind': 'trees', 'trees': out, 'aggregation': 'average', 'base': [0.0], 'input': 'float32',
                'task': 'regression', 'inverse_link': 'identity'}
    if t in (ensemble.GradientBoostingClassifier, ensemble.GradientBoostingRegressor):
        if not (est.init_ == 'zero' or type(est.init_).__name__ in ('DummyClassifier', 'DummyRegressor')):
            raise Unsupported('GradientBoosting with a custom init estimator')
        base = _np.asarray(est._raw_predict_init(_np.zeros((1, est.n_features_in_), dtype=_np.float32)),
                           dtype=_np.float64)[0]
        lr = float(est.learning_rate)
        out = []
        for stage in est.estimators_:
            for k, tr in enumerate(stage):
                out.append(_tree(_tree_nodes(tr), k, lr * tr.tree_.value[:, 0, 0]))
        d = {'kind': 'trees', 'trees': out, 'aggregation': 'sum', 'base': _f(base), 'input': 'float32'}
        if t is ensemble.GradientBoostingRegressor:
            d.update(task='regression', inverse_link='identity')
            return d
        loss = getattr(est, 'loss', 'log_loss')
        if loss not in ('log_loss', 'deviance', 'exponential'):
            raise Unsupported('GradientBoostingClassifier with loss=%r' % (loss,))
        d.update(task='classification', classes=_classes(est), label_from='proba')
        if len(est.classes_) == 2:
            d['proba'] = 'logistic_binary'
            if loss == 'exponential':
                d['sigmoid_scale'] = 2.0
        else:
            d['proba'] = 'softmax'
        return d
    if t in (ensemble.HistGradientBoostingClassifier, ensemble.HistGradientBoostingRegressor):
        out = []
        for it in est._predictors:
            for k, p in enumerate(it):
                nodes = p.nodes
                if _np.any(nodes['is_categorical']):
                    raise Unsupported('HistGradientBoosting with categorical splits')
                out.append(_tree(None, k, nodes['value'], hgb=nodes))
        base = _np.asarray(est._baseline_prediction, dtype=_np.float64).ravel()
        d = {'kind': 'trees', 'trees': out, 'aggregation': 'sum', 'base': _f(base), 'input': 'float64',
             'nan_allowed': True}
        link = type(est._loss.link).__name__
        if t is ensemble.HistGradientBoostingRegressor:
            if link not in ('IdentityLink', 'LogLink'):
                raise Unsupported('HistGradientBoostingRegressor with %s' % link)
            d.update(task='regression', inverse_link='exp' if link == 'LogLink' else 'identity')
            return d
        d.update(task='classification', classes=_classes(est), label_from='proba',
                 proba='logistic_binary' if len(est.classes_) == 2 else 'softmax')
        return d
    raise Unsupported('%s has no native form' % t.__name__)


def _probe_rows(steps, head, n_features, count=48):
    """Rows that exercise the compiled model: split thresholds (exactly, and a hair either side),
    one-hot categories, NaN where an imputer or the model accepts it, and spread-out values."""
    rng = _np.random.RandomState(12345)
    cands = [[] for _ in range(n_features)]
    first = steps[0] if steps else None
    if not steps and head['kind'] == 'trees':
        for tr in head['trees']:
            for f, th, l in zip(tr['feature'], tr['threshold'], tr['left']):
                if l >= 0 and 0 <= f < n_features:
                    cands[f].append(th)
    if first is not None and first['op'] == 'onehot':
        for j, c in enumerate(first['categories'][:n_features]):
            cands[j].extend(c)
    nan_ok = (first is not None and first['op'] == 'impute') or (not steps and head.get('nan_allowed'))
    x = _np.zeros((count, n_features), dtype=_np.float64)
    for i in range(count):
        for j in range(n_features):
            r = rng.randint(6)
            if cands[j] and r < 4:
                v = cands[j][rng.randint(len(cands[j]))]
                x[i, j] = v if r < 2 else (_np.nextafter(_np.float32(v), _np.float32(_np.inf if r == 2 else -_np.inf)))
            elif nan_ok and r == 4:
                x[i, j] = _np.nan
            else:
                x[i, j] = rng.normal() * 3.0
    return x


def compile_native(model, n_features):
    """JSON of the native form, with probe rows and scikit-learn's own answers to them; or raises
    Unsupported with the reason."""
    from sklearn.pipeline import Pipeline
    steps = []
    est = model
    if isinstance(model, Pipeline):
        for _, s in model.steps[:-1]:
            if s is None or s == 'passthrough':
                continue
            steps.append(_step(s))
        est = model.steps[-1][1]
    if n_features <= 0:
        raise Unsupported('the model does not record n_features_in_')
    head = _head(est)
    x = _probe_rows(steps, head, n_features)
    try:
        predict = model.predict(x)
        proba = model.predict_proba(x) if head.get('proba', 'none') != 'none' else None
    except Exception as e:  # e.g. an unknown category with handle_unknown='error'
        raise Unsupported('probe prediction failed: %s' % e)
    probe = {'x': [[(None if _np.isnan(v) else float(v)) for v in row] for row in x]}
    if head['task'] == 'classification':
        classes = list(_np.asarray(est.classes_))
        probe['label_index'] = [int(classes.index(v)) for v in predict]
    else:
        probe['value'] = _f(predict)
    if proba is not None:
        probe['proba'] = [_f(r) for r in proba]
    return _json.dumps({'n_features': int(n_features), 'steps': steps, 'head': head, 'probe': probe,
                        'type': _describe_type(model)})
