package io.engram.weights;

/**
 * The only Python globals a checkpoint pickle may name. Anything else (e.g. {@code os.system},
 * {@code builtins.eval}) is refused by {@link RestrictedUnpickler} before it can be called.
 */
enum TorchGlobal {
    ORDERED_DICT("collections", "OrderedDict", null),
    REBUILD_TENSOR_V2("torch._utils", "_rebuild_tensor_v2", null),
    REBUILD_PARAMETER("torch._utils", "_rebuild_parameter", null),
    DOUBLE_STORAGE("torch", "DoubleStorage", WeightDType.F64),
    FLOAT_STORAGE("torch", "FloatStorage", WeightDType.F32),
    HALF_STORAGE("torch", "HalfStorage", WeightDType.F16),
    BFLOAT16_STORAGE("torch", "BFloat16Storage", WeightDType.BF16),
    LONG_STORAGE("torch", "LongStorage", WeightDType.I64),
    INT_STORAGE("torch", "IntStorage", WeightDType.I32),
    SHORT_STORAGE("torch", "ShortStorage", WeightDType.I16),
    CHAR_STORAGE("torch", "CharStorage", WeightDType.I8),
    BYTE_STORAGE("torch", "ByteStorage", WeightDType.U8),
    BOOL_STORAGE("torch", "BoolStorage", WeightDType.BOOL);

    private final String module;
    private final String name;
    private final WeightDType storageDType;

    TorchGlobal(String module, String name, WeightDType storageDType) {
        this.module = module;
        this.name = name;
        this.storageDType = storageDType;
    }

    /** The whitelisted global for a module and name, or null if it is not allowed. */
    static TorchGlobal lookup(String module, String name) {
        for (TorchGlobal g : values()) {
            if (g.module.equals(module) && g.name.equals(name)) {
                return g;
            }
        }
        return null;
    }

    /** The element type of a storage class, or null if this global is not a storage class. */
    WeightDType storageDType() {
        return storageDType;
    }

    String qualifiedName() {
        return module + "." + name;
    }
}
