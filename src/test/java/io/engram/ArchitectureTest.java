package io.engram;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import ai.djl.ndarray.NDArray;
import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The package structure, checked on the compiled main classes (run it alone with
 * {@code mvn -B test -Dtest=ArchitectureTest}). From the edge down:
 * <pre>
 *   cli                          the jar's entry point: serve, bench, train
 *   bench, train                 tools that start the application in-process
 *   api, security                HTTP: controllers, request mapping, filters
 *   inference                    generation, sampling, compose modes
 *   state                        the state repository, stores, mixing, ids, codec
 *   scheduler                    the device scheduler and its batched sequences
 *   metrics                      Micrometer meters
 *   model                        architectures, kernels, the model registry
 *   weights, tokenizer           checkpoint readers, tokenizers
 *   config, error, tenant, lifecycle   settings and values every layer may use
 * </pre>
 * A layer may use the layers below it, never one above, and no two packages import each other, directly or
 * through others.
 */
@AnalyzeClasses(packages = "io.engram", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    @ArchTest
    static final ArchRule packagesFormNoCycles = slices().matching("io.engram.(*)..").should().beFreeOfCycles();

    @ArchTest
    static final ArchRule layersOnlyReachDown = layeredArchitecture().consideringOnlyDependenciesInLayers()
            .layer("cli").definedBy("io.engram.cli..")
            .layer("tools").definedBy("io.engram.bench..", "io.engram.train..")
            .layer("app").definedBy("io.engram")
            .layer("api").definedBy("io.engram.api..", "io.engram.security..")
            .layer("inference").definedBy("io.engram.inference..")
            .layer("state").definedBy("io.engram.state..")
            .layer("scheduler").definedBy("io.engram.scheduler..")
            .layer("metrics").definedBy("io.engram.metrics..")
            .layer("model").definedBy("io.engram.model..")
            .layer("weights/tokenizer").definedBy("io.engram.weights..", "io.engram.tokenizer..")
            .layer("foundation").definedBy("io.engram.config..", "io.engram.error..", "io.engram.tenant..",
                    "io.engram.lifecycle..")
            .whereLayer("cli").mayNotBeAccessedByAnyLayer()
            .whereLayer("tools").mayOnlyBeAccessedByLayers("cli")
            .whereLayer("app").mayOnlyBeAccessedByLayers("cli", "tools")
            .whereLayer("api").mayOnlyBeAccessedByLayers("cli", "tools", "app")
            .whereLayer("inference").mayOnlyBeAccessedByLayers("cli", "tools", "app", "api")
            .whereLayer("state").mayOnlyBeAccessedByLayers("cli", "tools", "app", "api", "inference")
            .whereLayer("scheduler").mayOnlyBeAccessedByLayers("cli", "tools", "app", "api", "inference", "state")
            .whereLayer("metrics").mayOnlyBeAccessedByLayers("cli", "tools", "app", "api", "inference", "state",
                    "scheduler")
            .whereLayer("model").mayOnlyBeAccessedByLayers("cli", "tools", "app", "api", "inference", "state",
                    "scheduler", "metrics")
            .whereLayer("weights/tokenizer").mayOnlyBeAccessedByLayers("cli", "tools", "app", "api", "inference",
                    "state", "scheduler", "metrics", "model")
            .whereLayer("foundation").mayOnlyAccessLayers("foundation");

    /**
     * Code that runs under autograd passes constants as tensors ({@code Nd.constant}), never as a {@code Number}:
     * DJL frees the tensor it wraps a number in as soon as the operation returns, while autograd still holds it for
     * the backward pass (see {@code Nd.constant}). Comparisons and indexing are not differentiated, but the rule
     * keeps no exceptions, so that it stays one line to read.
     */
    @ArchTest
    static final ArchRule differentiatedCodePassesNoNumberToNDArrays = noClasses()
            .that().haveSimpleNameEndingWith("Trainable").or().haveSimpleName("ChunkedWkv").or().haveSimpleName("Trainer")
            .should().callMethodWhere(DescribedPredicate.describe("an NDArray method taking a Number",
                    (JavaMethodCall call) -> call.getTarget().getOwner().isAssignableTo(NDArray.class)
                            && call.getTarget().getRawParameterTypes().stream().anyMatch(t -> t.isEquivalentTo(Number.class))))
            .because("DJL frees the wrapped number before the backward pass reads it");
}
