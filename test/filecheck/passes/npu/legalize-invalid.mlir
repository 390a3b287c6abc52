// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p npu-legalize | filecheck %s
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-legalize{target=ethos-u99}' | filecheck %s --check-prefix=TARGET

// TARGET: npu-legalize: unknown target 'ethos-u99' (built-in targets: {{.*}}ethos-u55-128{{.*}}; or give the path of a .toml file)

// The passes work on the model's @main, or on a module's only function.
// CHECK: npu-legalize: the module has 2 functions and none is @main: name the model's @main
func.func @first(%x: tensor<2xi8>) -> tensor<2xi8> {
  func.return %x : tensor<2xi8>
}
func.func @second(%x: tensor<2xi8>) -> tensor<2xi8> {
  func.return %x : tensor<2xi8>
}
