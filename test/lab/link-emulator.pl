#!/usr/bin/perl
# A link emulator for the network lab (test/e2e/netlab.ts), since this kernel has no netem: it
# reads IP packets from one TUN device, drops each with probability LOSS, holds the others for
# DELAY_MS and writes them, in order, to a second TUN device, where the kernel routes them on.
# Perl because it is part of every Debian system (perl-base is essential) and can make the
# ioctl that attaches a TUN device, which Node cannot.
#
# Usage: link-emulator.pl IN_TUN OUT_TUN DELAY_MS LOSS   (both devices made with `ip tuntap`)
use strict;
use warnings;
use Time::HiRes qw(time);

use constant { TUNSETIFF => 0x400454ca, IFF_TUN => 0x0001, IFF_NO_PI => 0x1000 };

sub attach {
  my ($name) = @_;
  open(my $fh, '+<', '/dev/net/tun') or die "cannot open /dev/net/tun: $!\n";
  ioctl($fh, TUNSETIFF, pack('Z16 s', $name, IFF_TUN | IFF_NO_PI)) or die "cannot attach $name: $!\n";
  binmode $fh;
  return $fh;
}

my ($in_name, $out_name, $delay_ms, $loss) = @ARGV;
die "usage: link-emulator.pl IN_TUN OUT_TUN DELAY_MS LOSS\n" unless defined $loss;
my $in = attach($in_name);
my $out = attach($out_name);
my $delay = $delay_ms / 1000;
$| = 1;
print "ready\n";

my @queue;    # [due time, packet], in arrival order (one delay for all keeps them in order)
my $bits = '';
vec($bits, fileno($in), 1) = 1;
while (1) {
  my $wait = @queue ? $queue[0][0] - time : undef;
  $wait = 0 if defined $wait && $wait < 0;
  my $ready = select(my $r = $bits, undef, undef, $wait);
  if ($ready > 0) {
    my $n = sysread($in, my $packet, 65536);
    exit 0 if defined $n && $n == 0;
    push @queue, [time + $delay, $packet] if $n && rand() >= $loss;
  }
  my $now = time;
  while (@queue && $queue[0][0] <= $now) {
    syswrite($out, (shift @queue)->[1]);
  }
}
