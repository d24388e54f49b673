package io.engram.weights;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pickles that try to run code, or are otherwise not plain tensor dicts, must be refused. */
class MaliciousPickleTest {

    @TempDir
    Path tmp;

    private static byte[] bytes(String latin1) {
        return latin1.getBytes(StandardCharsets.ISO_8859_1);
    }

    private CheckpointException refused(String name, byte[] pickle) throws IOException {
        Path f = TorchZips.write(tmp.resolve(name + ".pth"), "evil", pickle, Map.of());
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.open(f));
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        return e;
    }

    private static void assertMentions(CheckpointException e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + p + "' not in: " + e.getMessage());
        }
    }

    @Test
    void osSystemIsRefused() throws IOException {
        // PROTO 2, GLOBAL 'os system', BINUNICODE 'id', TUPLE1, REDUCE, STOP
        byte[] pickle = {(byte) 0x80, 0x02, 'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n',
            'X', 0x02, 0x00, 0x00, 0x00, 'i', 'd', (byte) 0x85, 'R', '.'};
        assertMentions(refused("os", pickle), "refusing pickle global 'os.system'",
                "a checkpoint may only contain tensors");
    }

    @Test
    void builtinsEvalIsRefused() throws IOException {
        byte[] pickle = bytes("\u0080\u0002cbuiltins\neval\nX\u000b\u0000\u0000\u0000print('hi')\u0085R.");
        assertMentions(refused("eval", pickle), "refusing pickle global 'builtins.eval'");
    }

    @Test
    void stackGlobalOfOtherNamesIsRefused() throws IOException {
        // PROTO 4, SHORT_BINUNICODE 'posix', SHORT_BINUNICODE 'system', STACK_GLOBAL, ...
        byte[] pickle = bytes("\u0080\u0004\u008c\u0005posix\u008c\u0006system\u0093\u008c\u0002id\u0085R.");
        assertMentions(refused("posix", pickle), "'posix.system'");
    }

    @Test
    void globalIsRefusedEvenWhenNeverCalled() throws IOException {
        byte[] pickle = bytes("\u0080\u0002csubprocess\nPopen\n.");
        assertMentions(refused("popen", pickle), "'subprocess.Popen'");
    }

    @Test
    void torchLookalikesAreRefused() throws IOException {
        byte[] pickle = bytes("\u0080\u0002ctorch\nload\n.");
        assertMentions(refused("torchload", pickle), "'torch.load'");
        assertMentions(refused("v3", bytes("\u0080\u0002ctorch._utils\n_rebuild_tensor_v3\n.")),
                "'torch._utils._rebuild_tensor_v3'");
        assertMentions(refused("case", bytes("\u0080\u0002cCollections\nOrderedDict\n.")),
                "'Collections.OrderedDict'");
        assertMentions(refused("untyped", bytes("\u0080\u0002ctorch\nUntypedStorage\n.")),
                "'torch.UntypedStorage'");
    }

    @Test
    void unknownOpcodesAreRefused() throws IOException {
        assertMentions(refused("inst", bytes("\u0080\u0002(ios\nsystem\n.")), "unsupported pickle opcode", "'i'");
        assertMentions(refused("obj", bytes("\u0080\u0002(o.")), "unsupported pickle opcode", "'o'");
        assertMentions(refused("newobj", bytes("\u0080\u0002)\u0081.")), "unsupported pickle opcode 0x81");
        assertMentions(refused("ext", bytes("\u0080\u0002\u0082\u0001.")), "unsupported pickle opcode 0x82");
        assertMentions(refused("ff", bytes("\u0080\u0002\u00ff.")), "unsupported pickle opcode 0xff");
    }

    @Test
    void callingWhitelistedNonFunctionsIsRefused() throws IOException {
        // torch.FloatStorage('x'): a storage class is a whitelisted name but not callable
        assertMentions(refused("storagecall", bytes("\u0080\u0002ctorch\nFloatStorage\nX\u0001\u0000\u0000\u0000x\u0085R.")),
                "refusing to call pickle global 'torch.FloatStorage'");
        // 'abc'(): REDUCE on a string
        assertMentions(refused("strcall", bytes("\u0080\u0002X\u0001\u0000\u0000\u0000a)R.")), "refusing to call");
        // BUILD on something other than a dict
        assertMentions(refused("build", bytes("\u0080\u0002]}b.")), "refusing BUILD");
    }

    @Test
    void foreignPersistentIdsAreRefused() throws IOException {
        assertMentions(refused("persid", bytes("\u0080\u0002X\u0004\u0000\u0000\u0000evil\u0085Q.")),
                "persistent id");
    }

    @Test
    void malformedPicklesAreRejected() throws IOException {
        assertMentions(refused("nostop", bytes("\u0080\u0002}")), "corrupt pickle", "STOP");
        assertMentions(refused("underflow", bytes("\u0080\u0002s.")), "corrupt pickle", "underflow");
        assertMentions(refused("memo", bytes("\u0080\u0002h\u0007.")), "corrupt pickle", "memo");
        assertMentions(refused("nomark", bytes("\u0080\u0002t.")), "corrupt pickle", "MARK");
        // BINUNICODE claiming 2 GiB: rejected from the length, nothing allocated
        assertMentions(refused("huge", bytes("\u0080\u0002X\u00ff\u00ff\u00ff\u007fabc.")), "corrupt pickle",
                "past the end");
        assertMentions(refused("proto", bytes("\u0080\u0009}.")), "protocol 9");
        assertMentions(refused("notdict", bytes("\u0080\u0002]." )), "dict of tensors");
    }
}
