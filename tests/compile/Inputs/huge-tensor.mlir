// A weight of 2^62 x 64 elements: its size overflows 64 bits.
func.func @forward(%x: tensor<?x64xbf16>) -> tensor<?x4611686018427387904xbf16> {
  %w = sl.weight "w" : tensor<4611686018427387904x64xbf16>
  %a = sl.linear %x, %w : (tensor<?x64xbf16>, tensor<4611686018427387904x64xbf16>) -> tensor<?x4611686018427387904xbf16>
  return %a : tensor<?x4611686018427387904xbf16>
}
