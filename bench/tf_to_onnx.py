#!/usr/bin/python3
"""Converts the TensorFlow models that bench/tf_vs_onnx_bench times into equivalent ONNX graphs.

No tf2onnx (nor TensorFlow) exists on these machines, so this converts the specific graphs the benchmark uses,
op by op, with Debian's `onnx` package (onnx.helper), reading the weights from the same files inferd reads:

- a Keras Dense stack exported as a TF2 SavedModel (tests/data/tf/tf_rust_keras_*): the layers' kernels and
  biases come from the TensorBundle checkpoint (variables.index + variables.data-*; read here by a minimal
  LevelDB-table reader: these indexes are uncompressed), the op sequence MatMul -> BiasAdd -> activation is
  Keras' Dense layer, and the activations are read from the SavedModel's function bodies;
- TF.js graph models (model.json + shards): every node of modelTopology is converted by the table of ops below,
  weights decoded from the shards (float32 and float16).

TF's NHWC layout is kept at the graph's edges (the ONNX graph takes and returns the same tensors) and
converted to NCHW once after the input and back before each image-shaped output, as tf2onnx does; ONNX
Runtime then runs its NCHW convolutions. The benchmark checks that both runtimes give the same outputs.

Usage: tf_to_onnx.py OUT_DIR   (writes keras_mlp.onnx, facemesh_detection_short.onnx, human_age.onnx)
"""
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPSET = 13


# ---- TensorBundle (LevelDB table of BundleEntryProto) ----

def _varint(buf, pos):
    result, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _proto_fields(buf):
    """(field number, wire type, value) of a protobuf message; value is an int or bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError('unsupported wire type %d' % wire)
        yield field, wire, value


def _block_entries(block):
    if block[-5] != 0:
        raise ValueError('compressed TensorBundle block (this reader handles uncompressed indexes only)')
    block = block[:-5]
    restarts = struct.unpack_from('<I', block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * restarts
    pos, key = 0, b''
    while pos < end:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        yield key, block[pos:pos + value_len]
        pos += value_len


def _handle(buf, pos=0):
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}


def read_bundle(prefix):
    """{name: numpy array} of a TensorBundle's fixed-size tensors."""
    index = open(prefix + '.index', 'rb').read()
    footer = index[-48:]
    _, _, pos = _handle(footer)
    index_off, index_size, _ = _handle(footer, pos)
    entries = {}
    for _, handle in _block_entries(index[index_off:index_off + index_size + 5]):
        off, size, _ = _handle(handle)
        for key, value in _block_entries(index[off:off + size + 5]):
            entries[key.decode()] = value
    num_shards = next(v for n, _, v in _proto_fields(entries.pop('')) if n == 1)  # the header entry
    shards, tensors = {}, {}
    for name, value in entries.items():
        f = {1: 0, 3: 0, 4: 0, 5: 0}
        shape = []
        for field, _, v in _proto_fields(value):
            if field == 2:
                for df, _, dim in _proto_fields(v):
                    if df == 2:
                        shape.append(next(s for n, _, s in _proto_fields(dim) if n == 1))
            elif field in f:
                f[field] = v
        if f[1] not in DTYPES:
            continue
        path = '%s.data-%05d-of-%05d' % (prefix, f[3], num_shards)
        data = shards.setdefault(path, open(path, 'rb').read())
        tensors[name] = np.frombuffer(data[f[4]:f[4] + f[5]], DTYPES[f[1]]).reshape(shape)
    return tensors


def _saved_model_functions(path):
    """{function name: [(node name, op)]} of a SavedModel's first MetaGraph (protobuf read by hand)."""
    sm = open(path, 'rb').read()
    meta = next(v for f, _, v in _proto_fields(sm) if f == 2)
    graph = next(v for f, _, v in _proto_fields(meta) if f == 2)
    library = next(v for f, _, v in _proto_fields(graph) if f == 2)
    functions = {}
    for f, _, fn in _proto_fields(library):
        if f != 1:
            continue
        name, nodes = '', []
        for ff, _, v in _proto_fields(fn):
            if ff == 1:
                name = next(x for n, _, x in _proto_fields(v) if n == 1).decode()
            elif ff == 3:
                node = {n: x for n, _, x in _proto_fields(v) if n in (1, 2)}
                nodes.append((node[1].decode(), node[2].decode()))
        functions[name] = nodes
    return functions


def keras_dense_stack(model_dir):
    """The Keras Sequential of Dense layers in a TF2 SavedModel, as ONNX (MatMul, Add, activation per layer)."""
    weights = read_bundle(os.path.join(model_dir, 'variables', 'variables'))
    # The traced model body with every layer inlined: the function with the most MatMul nodes.
    functions = _saved_model_functions(os.path.join(model_dir, 'saved_model.pb'))
    body = max(functions.values(), key=lambda nodes: sum(op == 'MatMul' for _, op in nodes))
    ops = [op for _, op in body if op in ('MatMul', 'BiasAdd', 'Relu', 'Sigmoid', 'Tanh', 'Softmax')]
    inits, nodes, x = [], [], 'x'
    layer = -1
    for i, op in enumerate(ops):
        y = 't%d' % i
        if op == 'MatMul':
            layer += 1
            w = 'layer_with_weights-%d/kernel/.ATTRIBUTES/VARIABLE_VALUE' % layer
            inits.append(numpy_helper.from_array(weights[w], 'kernel%d' % layer))
            nodes.append(helper.make_node('MatMul', [x, 'kernel%d' % layer], [y]))
        elif op == 'BiasAdd':
            b = 'layer_with_weights-%d/bias/.ATTRIBUTES/VARIABLE_VALUE' % layer
            inits.append(numpy_helper.from_array(weights[b], 'bias%d' % layer))
            nodes.append(helper.make_node('Add', [x, 'bias%d' % layer], [y]))
        else:
            nodes.append(helper.make_node(op, [x], [y]))
        x = y
    nodes.append(helper.make_node('Identity', [x], ['y']))
    k0 = weights['layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE']
    kn = weights['layer_with_weights-%d/kernel/.ATTRIBUTES/VARIABLE_VALUE' % layer]
    graph = helper.make_graph(nodes, 'keras_dense_stack', [
        helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', k0.shape[0]])
    ], [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['N', kn.shape[1]])], inits)
    return graph


# ---- TF.js graph models ----

def tfjs_weights(model_json):
    j = json.load(open(model_json))
    base = os.path.dirname(model_json)
    out = {}
    for group in j['weightsManifest']:
        data = b''.join(open(os.path.join(base, p), 'rb').read() for p in group['paths'])
        pos = 0
        for w in group['weights']:
            shape = [int(d) for d in w['shape']]
            n = int(np.prod(shape)) if shape else 1
            q = w.get('quantization')
            if q and q['dtype'] == 'float16':
                a = np.frombuffer(data, np.float16, n, pos).astype(np.float32)
                pos += 2 * n
            elif q:
                raise ValueError('quantization %s not handled' % q['dtype'])
            else:
                dt = {'float32': np.float32, 'int32': np.int32}[w['dtype']]
                a = np.frombuffer(data, dt, n, pos)
                pos += a.itemsize * n
            out[w['name']] = a.reshape(shape)
    return j, out


def _attr(node, name, default=None):
    a = node.get('attr', {}).get(name)
    if a is None:
        return default
    if 's' in a:
        import base64
        return base64.b64decode(a['s']).decode()
    if 'i' in a:
        return int(a['i'])
    if 'f' in a:
        return float(a['f'])
    if 'list' in a:
        lst = a['list']
        if 'i' in lst:
            return [int(v) for v in lst['i']]
        if 's' in lst:
            import base64
            return [base64.b64decode(v).decode() for v in lst['s']]
        return []
    return a


class TfjsConverter:
    """Converts a TF.js graph's nodes one by one. Image tensors are kept NCHW inside the ONNX graph
    (self.nchw marks them); anything else that reads one gets it transposed back to NHWC first."""

    def __init__(self, model_json):
        self.j, self.weights = tfjs_weights(model_json)
        self.nodes, self.inits, self.consts = [], [], {}
        self.nchw, self.nhwc_copy = set(), {}
        self.count = 0

    def name(self, base):
        self.count += 1
        return '%s__%d' % (base, self.count)

    def const(self, value, base='c'):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def node(self, op, inputs, output=None, **attrs):
        output = output or self.name(op)
        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def nhwc(self, t):
        """t as NHWC (a transposed copy of an NCHW tensor, made once)."""
        if t not in self.nchw:
            return t
        if t not in self.nhwc_copy:
            self.nhwc_copy[t] = self.node('Transpose', [t], perm=[0, 2, 3, 1])
        return self.nhwc_copy[t]

    def to_nchw(self, t):
        if t in self.nchw:
            return t
        out = self.node('Transpose', [t], perm=[0, 3, 1, 2])
        self.nchw.add(out)
        return out

    def check_layout(self, node):
        fmt = _attr(node, 'data_format', 'NHWC')
        if fmt != 'NHWC' or _attr(node, 'dilations', [1, 1, 1, 1]) != [1, 1, 1, 1]:
            raise ValueError('%s: only NHWC, undilated convolutions are converted' % node['name'])
        pad = _attr(node, 'padding')
        if pad not in ('SAME', 'VALID'):
            raise ValueError('%s: padding %s not converted' % (node['name'], pad))
        s = _attr(node, 'strides', [1, 1, 1, 1])
        return {'strides': s[1:3], 'auto_pad': 'SAME_UPPER' if pad == 'SAME' else 'VALID'}

    def conv(self, node, ins, depthwise):
        attrs = self.check_layout(node)
        w = self.consts[ins[1]]
        if depthwise:
            kh, kw, c, m = w.shape
            wt = w.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
            attrs['group'] = c
        else:
            wt = w.transpose(3, 2, 0, 1)
        args = [self.to_nchw(ins[0]), self.const(wt, 'w')]
        fused = _attr(node, 'fused_ops', [])
        if fused and fused[0] == 'BiasAdd':
            args.append(self.const(self.consts[ins[2]], 'b'))
            fused = fused[1:]
        elif fused:
            raise ValueError('%s: fused op %s not converted' % (node['name'], fused[0]))
        y = self.node('Conv', args, **attrs)
        self.nchw.add(y)
        for act in fused:
            if act not in ('Relu', 'Tanh', 'Sigmoid'):
                raise ValueError('%s: fused activation %s not converted' % (node['name'], act))
            y = self.node(act, [y])
            self.nchw.add(y)
        return y

    def convert_node(self, node, ins):
        op = node['op']
        if op in ('_FusedConv2D', 'Conv2D'):
            return self.conv(node, ins, False)
        if op in ('DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative', '_FusedDepthwiseConv2dNative'):
            return self.conv(node, ins, True)
        if op in ('AddV2', 'Add', 'Mul', 'Sub', 'RealDiv'):
            onnx_op = {'AddV2': 'Add', 'Add': 'Add', 'Mul': 'Mul', 'Sub': 'Sub', 'RealDiv': 'Div'}[op]
            if all(i in self.nchw for i in ins):
                y = self.node(onnx_op, ins)
                self.nchw.add(y)
                return y
            return self.node(onnx_op, [self.nhwc(i) for i in ins])
        if op in ('Relu', 'Tanh', 'Sigmoid'):
            y = self.node(op, [ins[0]])
            if ins[0] in self.nchw:
                self.nchw.add(y)
            return y
        if op == 'MaxPool':
            attrs = self.check_layout(node)
            y = self.node('MaxPool', [self.to_nchw(ins[0])], kernel_shape=_attr(node, 'ksize')[1:3], **attrs)
            self.nchw.add(y)
            return y
        if op == 'Pad':
            p = self.consts[ins[1]].astype(np.int64)  # [[before, after]] per NHWC dim
            if ins[0] in self.nchw:
                p = p[[0, 3, 1, 2]]
            y = self.node('Pad', [ins[0], self.const(np.concatenate([p[:, 0], p[:, 1]]), 'pads')])
            if ins[0] in self.nchw:
                self.nchw.add(y)
            return y
        if op == 'Shape':  # ONNX's Shape is int64; TF's out_type (int32 by default) is kept
            shape = self.node('Shape', [self.nhwc(ins[0])])
            to = TensorProto.INT64 if _attr(node, 'out_type', {}).get('type') == 'DT_INT64' else TensorProto.INT32
            return self.node('Cast', [shape], to=to)
        if op == 'StridedSlice':
            if any(_attr(node, a, 0) for a in ('begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask')):
                raise ValueError('%s: StridedSlice masks not converted' % node['name'])
            b, e, s = (self.consts[i].astype(np.int64) for i in ins[1:4])
            y = self.node('Slice', [self.nhwc(ins[0]), self.const(b), self.const(e),
                                    self.const(np.arange(len(b), dtype=np.int64)), self.const(s)])
            shrink = _attr(node, 'shrink_axis_mask', 0)
            axes = [a for a in range(len(b)) if shrink >> a & 1]
            return self.node('Squeeze', [y, self.const(np.array(axes, np.int64))]) if axes else y
        if op == 'Pack':
            axis = _attr(node, 'axis', 0)
            parts = [self.node('Unsqueeze', [self.nhwc(i), self.const(np.array([axis], np.int64))]) for i in ins]
            return self.node('Concat', parts, axis=axis)
        if op == 'Reshape':
            return self.node('Reshape', [self.nhwc(ins[0]), self.node('Cast', [ins[1]], to=TensorProto.INT64)])
        if op == 'ConcatV2':
            axis = int(self.consts[ins[-1]])
            return self.node('Concat', [self.nhwc(i) for i in ins[:-1]], axis=axis)
        if op == 'Identity':
            return self.node('Identity', [self.nhwc(ins[0])])
        raise ValueError('op %s (node %s) not converted' % (op, node['name']))

    def convert(self, name):
        sig = self.j['signature']
        inputs, outputs = [], []
        tensors = {}
        for alias, info in sig['inputs'].items():
            dims = [int(d['size']) for d in info['tensorShape']['dim']]
            shape = ['N' if d < 0 else d for d in dims]
            inputs.append(helper.make_tensor_value_info(alias, TensorProto.FLOAT, shape))
            tensors[info['name'].split(':')[0]] = alias
        for node in self.j['modelTopology']['node']:
            if node['op'] == 'Const':
                self.consts[node['name']] = self.weights[node['name']]
                tensors[node['name']] = self.const(self.weights[node['name']], 'k')
        for node in self.j['modelTopology']['node']:  # model.json lists nodes in topological order
            if node['op'] in ('Const', 'Placeholder'):
                continue
            ins = [i for i in node.get('input', []) if not i.startswith('^')]
            if any(':' in i and not i.endswith(':0') for i in ins):
                raise ValueError('%s: multi-output inputs not converted' % node['name'])
            ins = [i.split(':')[0] for i in ins]
            for i in ins:
                if i in self.consts:
                    self.consts[tensors[i]] = self.consts[i]
            tensors[node['name']] = self.convert_node(node, [tensors[i] for i in ins])
        for alias, info in sig['outputs'].items():
            out = self.nhwc(tensors[info['name'].split(':')[0]])
            self.node('Identity', [out], alias)
            dims = [int(d['size']) for d in info['tensorShape']['dim']]
            outputs.append(helper.make_tensor_value_info(alias, TensorProto.FLOAT, ['N' if d < 0 else d for d in dims]))
        used = {i for n in self.nodes for i in n.input}  # weights folded into converted ops are not kept twice
        return helper.make_graph(self.nodes, name, inputs, outputs, [t for t in self.inits if t.name in used])


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)], producer_name='tf_to_onnx.py')
    model.ir_version = 8  # what onnx 1.12 writes; ONNX Runtime >= 1.14 reads it
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    save(keras_dense_stack(os.path.join(ROOT, 'tests/data/tf/tf_rust_keras_single_input')),
         os.path.join(out, 'keras_mlp.onnx'))
    save(TfjsConverter(os.path.join(ROOT, 'tests/data/tfjs/human_facemesh_detection_short/'
                                          'facemesh-detection-short.json')).convert('facemesh_detection_short'),
         os.path.join(out, 'facemesh_detection_short.onnx'))


if __name__ == '__main__':
    main()
